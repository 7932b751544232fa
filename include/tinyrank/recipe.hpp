// tinyrank/recipe.hpp — one training recipe, dense or low-rank, turned into the objects that
// train it (book §3.5, §7.5). `tinyrank train`, `tinyrank reproduce` and the tutorials of
// chapters 9 and 10 build their runs here, so that one recipe means the same everywhere.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tinyrank/dlrt.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/nn.hpp"
#include "tinyrank/optim.hpp"
#include "tinyrank/train.hpp"

namespace tinyrank {

// Everything that decides how a model of the zoo is trained.
struct Recipe {
    std::string architecture = "lenet5";  // "mlp" or "lenet5"
    bool lowrank = false;                 // factorise layers and train them with DlrtStepper
    OptimizerKind optimizer = OptimizerKind::adam;
    float lr = 0.0f;                      // 0: default_lr(lowrank)
    float momentum = 0.9f;                // SGD only
    float weight_decay = 0.0f;
    float clip = 0.0f;                    // > 0: clip the gradient norm
    float beta = 0.0f;                    // weight of the spectral regulariser on the cores
    RankOptions ranks;                    // rank 0: default_rank(architecture)
    Factorize factorize = Factorize::standard;
    std::optional<DlrtIntegrator> integrator;  // none: default_integrator(architecture)
    float tau = 0.1f;                     // relative truncation tolerance
    int64_t local_steps = 10;             // s*
    int64_t finetune_epochs = 0;          // the last N epochs train S with frozen bases
    TrainOptions train;                   // epochs, batch size, seed (init and batch order), …
};

// The learning rate a recipe uses when it names none: 0.001 dense, 0.003 low-rank (book §7.4).
float default_lr(bool lowrank);

// The integrator a low-rank recipe uses when it names none: lenet5 augmented (rank-adaptive),
// mlp fixed-rank (book §7.12: at 94% compression its bases need to turn faster than the
// augmented step turns them).
DlrtIntegrator default_integrator(const std::string& architecture);

// A recipe made ready to run: the model and what trains it.
struct Training {
    std::unique_ptr<Sequential> model;
    std::unique_ptr<Optimizer> optimizer;
    std::unique_ptr<CosineSchedule> schedule;  // cosine decay to 0 over every batch of the run
    std::unique_ptr<Stepper> stepper;          // OptimizerStepper or DlrtStepper
    float lr = 0.0f;                           // the base rate actually used
};

// Builds the model (seeded by recipe.train.seed), optimiser, schedule and stepper of `recipe`
// for `batches_per_epoch` batches per epoch; throws on an inconsistent recipe.
Training prepare_training(const Recipe& recipe, int64_t batches_per_epoch);

}  // namespace tinyrank
