//! The setup the training and gradient-noise benchmarks share: two moons, 200 points, an MLP
//! 2-h-h-1 (tanh hidden, one logit, BCE on logits) from a Xavier-uniform start, as a
//! `ModelObjective` over the whole training set.

use gradscope::data::{Batcher, Generator};
use gradscope::model::{Activation, Init, Loss, LossKind, Mlp, Model, init_params};
use gradscope::objective::ModelObjective;

pub const SEED: u64 = 7;
pub const POINTS: usize = 200;

/// The objective with `hidden` units in each of the two hidden layers, and its start.
pub fn moons_mlp(hidden: usize) -> (ModelObjective<Model>, Vec<f64>) {
    let train = Generator::Moons {
        n: POINTS,
        noise: 0.1,
    }
    .generate(SEED)
    .expect("moons");
    let n = train.len();
    let mlp = Mlp::with_hidden(
        vec![2, hidden, hidden, 1],
        Activation::Tanh,
        Activation::Identity,
    )
    .expect("valid MLP");
    let model = Model::Mlp(mlp);
    let start = init_params(&model, &Init::XAVIER_UNIFORM, SEED).expect("init");
    let names = (0..start.len()).map(|i| format!("p{i}")).collect();
    let objective = ModelObjective::new(
        model,
        Loss::new(LossKind::BceWithLogits),
        train,
        None,
        start.clone(),
        Batcher::new(n, n, SEED).expect("batcher"),
        names,
    );
    (objective, start)
}
