// A training recipe into a model, optimiser, schedule and stepper (book §3.5, §7.5).
#include "tinyrank/recipe.hpp"

#include "tinyrank/error.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/regularizer.hpp"

namespace tinyrank {

float default_lr(bool lowrank) {
    // Adam moves every entry of a core S by about lr per step, which changes W = U S Vᵀ far
    // less than the same lr changes a dense W (book §7.4): low-rank training takes 3× the rate.
    return lowrank ? 0.003f : 0.001f;
}

namespace {

// The optimiser a recipe names, over `parameters`.
std::unique_ptr<Optimizer> make_optimizer(const Recipe& recipe, float lr, float weight_decay,
                                          std::vector<Parameter*> parameters) {
    if (recipe.optimizer == OptimizerKind::sgd)
        return std::make_unique<SGD>(std::move(parameters), lr, recipe.momentum, weight_decay);
    return std::make_unique<Adam>(std::move(parameters), lr, 0.9f, 0.999f, 1e-8f, weight_decay,
                                  recipe.optimizer == OptimizerKind::adamw);
}

}  // namespace

DlrtIntegrator default_integrator(const std::string& architecture) {
    return architecture == "mlp" ? DlrtIntegrator::fixed_rank : DlrtIntegrator::augmented;
}

Training prepare_training(const Recipe& recipe, int64_t batches_per_epoch) {
    if (recipe.beta > 0.0f && !recipe.lowrank)
        throw Error("recipe: beta > 0 regularises low-rank cores, found a dense recipe");
    if (recipe.finetune_epochs < 0 || recipe.finetune_epochs >= recipe.train.epochs)
        throw Error("recipe: expected 0 <= finetune_epochs < epochs = " + std::to_string(recipe.train.epochs) +
                    ", found " + std::to_string(recipe.finetune_epochs));
    Training t;
    t.lr = recipe.lr > 0.0f ? recipe.lr : default_lr(recipe.lowrank);
    Rng rng(recipe.train.seed);
    RankOptions ranks = recipe.ranks;
    if (ranks.rank == 0) ranks.rank = default_rank(recipe.architecture);
    t.model = recipe.lowrank ? make_lowrank_model(recipe.architecture, rng, ranks, recipe.factorize)
                             : make_model(recipe.architecture, rng);
    t.optimizer = make_optimizer(recipe, t.lr, recipe.weight_decay,
                                 recipe.lowrank ? galerkin_parameters(*t.model) : t.model->parameters());
    t.schedule = std::make_unique<CosineSchedule>(t.lr, batches_per_epoch * recipe.train.epochs);
    if (!recipe.lowrank) {
        t.stepper = std::make_unique<OptimizerStepper>(*t.model, *t.optimizer, t.schedule.get(),
                                                       OptimizerStepOptions{recipe.clip});
        return t;
    }
    DlrtOptions dlrt;
    dlrt.integrator = recipe.integrator.value_or(default_integrator(recipe.architecture));
    dlrt.tau = recipe.tau;
    dlrt.local_steps = recipe.local_steps;
    dlrt.clip_norm = recipe.clip;
    dlrt.adaptive_epochs = recipe.finetune_epochs > 0 ? recipe.train.epochs - recipe.finetune_epochs : 0;
    // Weight decay reaches S through the Galerkin optimiser only (book/method.md §2), never K or L.
    const OptimizerFactory make_basis_optimizer = [&recipe, lr = t.lr](std::vector<Parameter*> parameters) {
        return make_optimizer(recipe, lr, 0.0f, std::move(parameters));
    };
    auto stepper = std::make_unique<DlrtStepper>(*t.model, *t.optimizer, t.schedule.get(), dlrt, make_basis_optimizer);
    if (recipe.beta > 0.0f) stepper->set_core_penalty(spectral_penalty(recipe.beta));
    t.stepper = std::move(stepper);
    return t;
}

}  // namespace tinyrank
