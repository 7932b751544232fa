// The presets of `tinyrank reproduce`, sized for a 2-core machine (book §10.2; book/method.md §5).
#include "tinyrank/error.hpp"
#include "tinyrank/reproduce.hpp"

namespace tinyrank {

std::vector<std::string> preset_names() { return {"quick", "standard", "full"}; }

// region: presets
Preset preset(const std::string& name) {
    const std::vector<float> fgsm_eps{0.02f, 0.05f, 0.1f, 0.15f, 0.2f, 0.3f};
    const std::vector<float> pgd_eps{0.05f, 0.1f, 0.2f};
    Preset p;
    p.name = name;
    p.models = {"lenet5"};
    if (name == "quick") {  // a first look, and what the test suite runs (on a smaller budget still)
        p.seeds = 1;
        p.epochs = 1;
        p.max_batches = 150;
        p.betas = {0.05f, 0.2f};
        p.attacks = {{AttackKind::fgsm, {0.05f, 0.1f, 0.2f}, 1, true}};
        p.attack_limit = 1000;
        p.expected_time = "about 1.5 minutes on 2 cores";
        return p;
    }
    if (name == "standard") {  // `make reproduce`: the table of the README
        p.seeds = 3;
        p.epochs = 2;
        p.betas = {0.02f, 0.05f, 0.1f, 0.2f, 0.5f};
        p.attacks = {{AttackKind::fgsm, fgsm_eps, 1, true}, {AttackKind::pgd_linf, pgd_eps, 10, false}};
        p.attack_limit = 2000;
        p.expected_time = "about 12 minutes on 2 cores";
        return p;
    }
    if (name == "full") {  // both models, five seeds, every test image
        p.models = {"lenet5", "mlp"};
        p.seeds = 5;
        p.epochs = 5;
        p.betas = {0.01f, 0.02f, 0.05f, 0.1f, 0.2f, 0.5f, 1.0f};
        p.sweep_epochs = 2;
        p.attacks = {{AttackKind::fgsm, fgsm_eps, 1, true}, {AttackKind::pgd_linf, pgd_eps, 10, true}};
        p.attack_limit = 0;
        p.expected_time = "about 3 hours on 2 cores (estimated)";
        return p;
    }
    throw Error("reproduce: expected a preset quick, standard or full, found '" + name + "'");
}
// endregion: presets

}  // namespace tinyrank
