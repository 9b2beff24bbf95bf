//! Table-driven tests over the fixture files in `tests/scenarios/{valid,invalid}`, loaded as
//! the application loads them: against the real optimizer registry and expression language.

use std::path::PathBuf;

use super::*;
use crate::data::generate::Generator;
use crate::headless::expect::{Check, StatusName};
use crate::landscape::Plane;
use crate::model::{Activation, Init, LossKind};
use crate::optim::HyperValue;
use crate::optim::clip::GradClip;
use crate::optim::schedule::{Plateau, Schedule};

fn dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(kind)
}

/// Loads a fixture from disk, so its data paths resolve against its folder as they will when
/// it is run; messages name it by its full path.
fn load(kind: &str, file: &str) -> Result<Scenario, ScenarioErrors> {
    load_file(dir(kind).join(file))
}

/// (file, message fragment, line, column) of the first error each invalid fixture reports.
const INVALID: &[(&str, &str, usize, usize)] = &[
    (
        "01_syntax_unclosed_flow",
        "did not find expected ',' or ']'",
        4,
        11,
    ),
    ("02_tab_indent", "cannot start any token", 2, 1),
    (
        "03_empty",
        "the file is empty; expected a mapping with `objective`",
        1,
        1,
    ),
    ("04_binary", "the file is binary", 1, 12),
    ("05_invalid_utf8", "not valid UTF-8 (byte 0xe9", 1, 10),
    (
        "06_top_level_list",
        "the scenario must be a mapping, found a list",
        1,
        1,
    ),
    (
        "07_top_level_scalar",
        "must be a mapping, found the string",
        1,
        1,
    ),
    ("08_unknown_top_key", "missing key 'optimizers'", 1, 1),
    ("09_missing_objective", "missing key 'objective'", 1, 1),
    ("10_unknown_optimizer", "unknown optimizer 'adma'", 6, 11),
    (
        "11_unknown_hyper",
        "unknown hyperparameter 'lrr' for adam",
        6,
        5,
    ),
    (
        "12_hyper_out_of_range",
        "hyperparameter 'lr' of 'sgd' got '-0.1'",
        6,
        9,
    ),
    (
        "13_hyper_wrong_type",
        "hyperparameter 'betas' of 'adam' got '0.9'",
        6,
        12,
    ),
    (
        "14_duplicate_label",
        "duplicate label 'fast' (first used on line 6)",
        8,
        12,
    ),
    (
        "15_start_length",
        "`start` has 3 value(s) but there are 2 variable(s)",
        4,
        10,
    ),
    ("16_unknown_loss", "unknown loss 'msee'", 3, 9),
    ("17_unknown_activation", "unknown activation 'tahn'", 5, 17),
    ("18_unknown_dataset", "unknown dataset kind 'moon'", 4, 16),
    ("19_unknown_engine", "unknown engine 'backward'", 4, 9),
    (
        "20_unknown_schedule",
        "unknown schedule kind 'cosin'",
        6,
        22,
    ),
    (
        "21_layers_vs_features",
        "layers[0] is 3 but the dataset has 2 feature(s)",
        4,
        14,
    ),
    ("22_expect_unknown_label", "no run is labelled 'adma'", 7, 3),
    (
        "23_wrong_type_seed",
        "wrong type: found the string 'many'",
        1,
        7,
    ),
    ("24_unknown_key_in_stop", "unknown key 'max_step'", 6, 3),
    (
        "25_missing_name",
        "missing key 'name' in an optimizer",
        5,
        5,
    ),
    ("26_objective_neither", "needs `expr`", 2, 3),
    ("27_bad_status", "unknown status 'converge'", 6, 18),
    (
        "28_test_fraction_range",
        "'test_fraction' is out of range: 1.5",
        5,
        18,
    ),
    (
        "29_start_unknown_var",
        "`start` names 'z', which is not a variable (the variables are x, y; 'y' has no value)",
        4,
        17,
    ),
    (
        "30_duplicate_key",
        "duplicate key 'seed' (first given on line 5)",
        6,
        1,
    ),
    ("31_unknown_key_in_model", "unknown key 'activaton'", 2, 38),
    ("32_schedule_param_typo", "unknown key 'step_sze'", 6, 28),
    (
        "33_clip_both",
        "exactly one of 'max_norm' and 'value'",
        6,
        11,
    ),
    ("34_chunk_range", "'chunk' is out of range: 0", 4, 32),
    ("35_unknown_data_key", "unknown key 'noize'", 4, 31),
    (
        "36_init_length",
        "init has 2 value(s) but the model has 3 parameter(s)",
        5,
        9,
    ),
    ("37_missing_optimizers", "missing key 'optimizers'", 1, 1),
    (
        "38_bool_hyper_as_number",
        "hyperparameter 'nesterov' of 'sgd' got '1'",
        6,
        15,
    ),
    ("39_unknown_model_kind", "unknown model kind 'mpl'", 2, 17),
    (
        "40_cross_entropy_regression",
        "loss 'cross_entropy' needs class labels",
        3,
        9,
    ),
    ("41_many_errors", "unknown optimizer 'adma'", 6, 11),
    (
        "42_resource_dataset_size",
        "the largest part is the dataset, 500000000000000 examples of 3 values",
        5,
        26,
    ),
    (
        "43_resource_wide_mlp",
        "not enough memory: this scenario needs about 7.2 PiB",
        3,
        30,
    ),
    (
        "44_resource_layers_overflow",
        "not enough memory: this scenario needs about 2.7e42 bytes, over the limit of",
        5,
        13,
    ),
    (
        "45_resource_newton_hessian",
        "not enough memory: this scenario needs about 351 TiB",
        8,
        11,
    ),
    (
        "46_resource_finite_engine",
        "finite differences make 133123 evaluations for a gradient",
        6,
        9,
    ),
    (
        "47_nesting_depth",
        "the document nests lists and mappings more than 20 deep here",
        4,
        30,
    ),
    (
        "48_nan_weights",
        "'weights' must be finite, found .nan",
        4,
        59,
    ),
    (
        "49_duplicate_params",
        "'a' is listed twice in `params` (first at line 6, column 14)",
        6,
        20,
    ),
    (
        "50_param_is_input",
        "'x' is both a parameter and an input (in `inputs` at line 5, column 14)",
        6,
        20,
    ),
    (
        "51_batch_vs_train_split",
        "batch_size 80 is larger than the training split (50 of 100 examples; \
         test_fraction 0.5 holds out 50)",
        7,
        15,
    ),
    (
        "52_integer_overflow",
        "'max_steps' is out of range: 99999999999999999999999",
        6,
        14,
    ),
    ("53_complex_key", "a list cannot be a key here", 5, 3),
    (
        "54_unterminated_string",
        "the quoted string that opens here is not closed on its line; the next \" is on line 3, \
         column 9",
        1,
        7,
    ),
    (
        "55_unclosed_string_at_end",
        "this quoted string is never closed (the file ends inside it)",
        5,
        14,
    ),
    (
        "56_start_key_not_in_expr",
        "`start` names 'z', which is not a variable (the expression uses x, y; 'y' has no value)",
        3,
        20,
    ),
    (
        "57_inline_label_out_of_range",
        "row 4: target 3 is not valid for 3-class classification (labels 0, 1 or 2)",
        10,
        20,
    ),
    (
        "58_csv_is_a_device",
        "cannot read '/dev/zero': not a regular file (it is a character device)",
        4,
        27,
    ),
    (
        "59_csv_is_a_directory",
        "not a regular file (it is a directory)",
        4,
        27,
    ),
    (
        "60_init_file_is_a_device",
        "cannot read '/dev/urandom': not a regular file (it is a character device)",
        5,
        16,
    ),
    (
        "61_nan_inline_row",
        "every value of 'rows' must be finite, found .inf",
        6,
        24,
    ),
    (
        "62_not_a_whole_number",
        "'n' is not a whole number: 100.5",
        4,
        26,
    ),
    ("63_view_levels", "'levels' is out of range: 1000000", 6, 16),
    (
        "64_lambda_bad_variable",
        "in the expression '0.95^step' at column 6: unknown variable `step`",
        4,
        41,
    ),
    (
        "65_onecycle_without_momentum",
        "optimizer 'adagrad' has neither 'momentum' nor 'betas'; set cycle_momentum: false",
        4,
        15,
    ),
    (
        "66_sequential_holds_plateau",
        "a 'sequential' schedule cannot hold a 'plateau' schedule",
        9,
        18,
    ),
    (
        "67_gd_minibatch",
        "'gd' is full-batch gradient descent: it takes all 100 training examples, not \
         batches of 8; minibatches are 'sgd'",
        8,
        37,
    ),
    (
        "68_batch_on_expression",
        "'shuffle' applies to model objectives only",
        8,
        5,
    ),
    (
        "69_run_batch_vs_train_split",
        "batch_size 31 is larger than the training split (30 of 40 examples; \
         test_fraction 0.25 holds out 10)",
        8,
        29,
    ),
    (
        "70_schedule_without_lr",
        "schedule 'cosine' drives the learning rate, and nelder_mead has no learning rate",
        4,
        15,
    ),
    (
        "71_onecycle_past_total_steps",
        "onecycle's total_steps is 100 but this run takes up to 180 of its steps \
         (stop.max_steps is 200); torch's OneCycleLR raises past total_steps",
        10,
        54,
    ),
    (
        "72_sequential_restarts_composite",
        "a 'sequential' schedule cannot restart a 'chained' schedule at its milestone",
        9,
        18,
    ),
];

/// What the fixtures of the resource and syntax classes must also say: the estimate and the
/// limit, the range, the expression's variables.
const ALSO_SAYS: &[(&str, &str)] = &[
    ("42_resource_dataset_size", "over the limit of"),
    ("42_resource_dataset_size", "--allow-large"),
    (
        "43_resource_wide_mlp",
        "the largest part is 1 run(s) of 1000005000001 parameters, with optimizer state and a \
         history of 1001 points each (7.2 PiB)",
    ),
    (
        "43_resource_wide_mlp",
        "one step of run 'adam' needs about 2.4e15 operations",
    ),
    (
        "45_resource_newton_hessian",
        "the largest part is newton's Hessian of 4010001 × 4010001 entries",
    ),
    (
        "45_resource_newton_hessian",
        "one step of run 'newton' needs about 2.6e22 operations",
    ),
    ("46_resource_finite_engine", "engine: reverse"),
    (
        "52_integer_overflow",
        "a whole number in [0, 18446744073709551615]",
    ),
    ("54_unterminated_string", "expected a closing \" on line 1"),
    ("56_start_key_not_in_expr", "expected one of: x, y"),
    ("57_inline_label_out_of_range", "the model's 3 classes"),
    ("12_hyper_out_of_range", "expected a number > 0"),
    ("13_hyper_wrong_type", "expected a pair, each in [0, 1)"),
    ("38_bool_hyper_as_number", "expected true or false"),
];

/// Suggestions the typo fixtures must offer.
const SUGGESTIONS: &[(&str, &str)] = &[
    ("08_unknown_top_key", "optimizers"),
    ("10_unknown_optimizer", "adam"),
    ("11_unknown_hyper", "lr"),
    ("16_unknown_loss", "mse"),
    ("17_unknown_activation", "tanh"),
    ("18_unknown_dataset", "moons"),
    ("20_unknown_schedule", "cosine"),
    ("22_expect_unknown_label", "adam"),
    ("24_unknown_key_in_stop", "max_steps"),
    ("26_objective_neither", "expr"),
    ("27_bad_status", "converged"),
    ("31_unknown_key_in_model", "activation"),
    ("32_schedule_param_typo", "step_size"),
    ("35_unknown_data_key", "noise"),
    ("39_unknown_model_kind", "mlp"),
];

fn errors_of(file: &str) -> ScenarioErrors {
    match load("invalid", &format!("{file}.yaml")) {
        Ok(s) => panic!("{file} loaded but should not: {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_invalid_fixture_reports_its_error_where_it_is() {
    let mut failures = Vec::new();
    for &(file, fragment, line, column) in INVALID {
        let errors = errors_of(file);
        let first = &errors.errors()[0];
        let rendered = errors.to_string();
        let location = format!("{file}.yaml:{line}:{column}");
        if !first.message.contains(fragment)
            || (first.line, first.column) != (line, column)
            || !rendered.contains(&location)
        {
            failures.push(format!(
                "{file}: wanted '{fragment}' at {line}:{column}\n{rendered}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn invalid_fixtures_name_the_estimate_range_or_alternative() {
    for &(file, fragment) in ALSO_SAYS {
        let text = errors_of(file).to_string();
        assert!(
            text.contains(fragment),
            "{file}: no '{fragment}' in\n{text}"
        );
    }
}

#[test]
fn every_invalid_fixture_is_in_the_table() {
    let mut names: Vec<String> = std::fs::read_dir(dir("invalid"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let listed: Vec<String> = INVALID.iter().map(|(f, ..)| format!("{f}.yaml")).collect();
    assert_eq!(names, listed);
}

#[test]
fn typos_get_the_nearest_name() {
    for &(file, want) in SUGGESTIONS {
        let errors = errors_of(file);
        let found = errors
            .errors()
            .iter()
            .any(|e| e.suggestion.as_deref() == Some(want));
        assert!(found, "{file}: no suggestion '{want}' in\n{errors}");
        assert!(
            errors
                .to_string()
                .contains(&format!("did you mean '{want}'?"))
        );
    }
}

#[test]
fn carets_sit_under_the_offending_token() {
    let errors = errors_of("10_unknown_optimizer");
    let text = errors.to_string();
    assert!(
        text.contains("6 |   - name: adma\n  |           ^^^^ expected one of:"),
        "{text}"
    );
    let tab = errors_of("02_tab_indent");
    assert!(
        tab.errors()[0]
            .expected
            .as_deref()
            .unwrap()
            .contains("spaces")
    );
}

#[test]
fn all_errors_of_a_file_are_reported_together() {
    let errors = errors_of("41_many_errors");
    let got: Vec<(String, usize, usize)> = errors
        .errors()
        .iter()
        .map(|e| (e.message.clone(), e.line, e.column))
        .collect();
    let want: &[(&str, usize, usize)] = &[
        ("unknown optimizer 'adma'", 6, 11),
        ("hyperparameter 'lr' of 'sgd' got '-1'", 9, 9),
        ("unknown hyperparameter 'momentun' for sgd", 10, 5),
        ("hyperparameter 'betas' of 'adam' got '(0.9, 1.5)'", 12, 12),
        ("'max_steps' must be at least 1", 14, 14),
        ("no run is labelled 'adamw'", 17, 3),
        ("unknown key 'stauts'", 18, 10),
    ];
    assert_eq!(got.len(), want.len(), "{errors}");
    for ((msg, l, c), (frag, wl, wc)) in got.iter().zip(want) {
        assert!(
            msg.contains(frag) && (l, c) == (wl, wc),
            "{msg} at {l}:{c}, wanted {frag} at {wl}:{wc}"
        );
    }
    let text = errors.to_string();
    assert!(text.contains("\n\n7 errors in ") && text.ends_with("/41_many_errors.yaml"));
}

#[test]
fn missing_file_names_the_path() {
    let e = load_file("no/such/scenario.yaml").unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e.errors()[0]
            .message
            .contains("cannot read 'no/such/scenario.yaml'")
    );
    assert!(e.to_string().contains("--> no/such/scenario.yaml:1:1"));
}

#[test]
fn expression_syntax_errors_point_into_the_expression() {
    let src = "objective:\n  expr: \"x^2 @ y\"\n  start: [1, 2]\noptimizers: [adam]\n";
    let e = load_str(src, "e.yaml").unwrap_err();
    let first = &e.errors()[0];
    assert_eq!(
        first.message,
        "invalid expression: unexpected character `@`"
    );
    assert_eq!((first.line, first.column), (2, 14));
}

#[test]
fn expression_variables_fix_the_order_of_a_list_start() {
    let src = "objective:\n  expr: \"x^2 + y^2 + z\"\n  start: [1, 2]\noptimizers: [adam]\n";
    let e = load_str(src, "e.yaml").unwrap_err();
    assert!(
        e.errors()[0]
            .message
            .contains("2 value(s) but there are 3 variable(s) (x, y, z)")
    );
}

#[test]
fn huge_files_load() {
    let mut src = String::from("objective:\n  expr: \"x^2\"\n  start: [1]\noptimizers:\n");
    for i in 0..5000 {
        src.push_str(&format!(
            "  - {{name: sgd, lr: {}}}\n",
            0.001 * f64::from(i + 1)
        ));
    }
    let s = load_str(&src, "big.yaml").unwrap();
    assert_eq!(s.optimizers.len(), 5000);
    assert_eq!(s.optimizers[4999].label, "sgd-5000");
}

#[test]
fn a_storm_of_errors_is_cut_to_the_first_fifty() {
    let mut src = String::from("objective: {expr: \"x^2\", start: [1]}\noptimizers: [adam]\n");
    for i in 0..500 {
        src.push_str(&format!("extra{i}: 1\n"));
    }
    let e = load_str(&src, "storm.yaml").unwrap_err();
    assert_eq!(e.len(), 50);
    assert!(
        e.errors()[49]
            .message
            .ends_with("(and 450 more error(s) after this one, not shown)"),
        "{}",
        e.errors()[49].message
    );
    // Past a thousand, recording stops: the count is a lower bound and says so.
    for i in 500..5000 {
        src.push_str(&format!("extra{i}: 1\n"));
    }
    let e = load_str(&src, "storm.yaml").unwrap_err();
    assert!(
        e.errors()[49]
            .message
            .ends_with("(and at least 950 more error(s) after this one, not shown)"),
        "{}",
        e.errors()[49].message
    );
}

/// Checks that compared every key with every other took minutes on files like this one (a
/// few MB); they must stay linear.
#[test]
fn mappings_of_a_hundred_thousand_keys_are_checked_in_linear_time() {
    let mut src = String::from("objective:\n  expr: \"x0\"\n  start: {");
    for i in 0..100_000 {
        src.push_str(&format!("x{i}: 1, "));
    }
    src.push_str("x7: 2}\noptimizers: [adam]\n");
    let e = load_str(&src, "many.yaml").unwrap_err();
    assert_eq!(e.len(), 1, "{e}");
    assert!(
        e.errors()[0]
            .message
            .starts_with("duplicate key 'x7' (first given on line 3)"),
        "{e}"
    );
}

fn valid(file: &str) -> Scenario {
    match load("valid", file) {
        Ok(s) => s,
        Err(e) => panic!("{file} should load:\n{e}"),
    }
}

/// The value of hyperparameter `name` of a run, if the file gives it.
fn hyper<'a>(run: &'a crate::session::RunSpec, name: &str) -> Option<&'a HyperValue> {
    run.hyperparameters
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[test]
fn rosenbrock_loads_every_field() {
    let s = valid("rosenbrock.yaml");
    assert_eq!(s.name, "Rosenbrock valley");
    assert!(s.description.starts_with("The banana-shaped valley"));
    assert!(s.description.contains('\n'));
    assert_eq!(s.seed, 7);
    assert_eq!(s.engine, crate::ad::Engine::Forward { chunk: 2 });
    let Objective::Expr(e) = &s.objective else {
        panic!("expected an expression")
    };
    assert_eq!(e.expr, "(1-x)^2 + 100*(y-x^2)^2");
    let vars = vec!["x".to_string(), "y".to_string()];
    assert_eq!(e.start.ordered(&vars), Some(vec![-1.5, 2.0]));
    assert_eq!(e.minimum, Some(PerVar::List(vec![1.0, 1.0])));
    assert_eq!(
        e.bounds.as_ref().and_then(|b| b.ordered(&vars)),
        Some(vec![[-2.0, 2.0], [-1.0, 3.0]])
    );

    let labels: Vec<&str> = s.optimizers.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["sgd", "adam", "adam-2", "plain"]);
    let sgd = &s.optimizers[0];
    assert_eq!(hyper(sgd, "lr"), Some(&HyperValue::Float(0.001)));
    assert_eq!(hyper(sgd, "nesterov"), Some(&HyperValue::Bool(true)));
    let adam = &s.optimizers[1];
    assert_eq!(hyper(adam, "betas"), Some(&HyperValue::Pair(0.9, 0.999)));
    assert_eq!(
        adam.schedule,
        Some(Schedule::CosineAnnealing {
            t_max: 500,
            eta_min: 0.0001
        })
    );
    assert_eq!(adam.clip, Some(GradClip::norm(10.0)));
    assert_eq!(
        s.optimizers[2].schedule,
        Some(Schedule::LinearWarmup {
            total_iters: 50,
            start_factor: 0.1,
            end_factor: 1.0,
            then: Box::new(Schedule::Step {
                step_size: 200,
                gamma: 0.5
            })
        })
    );
    assert_eq!(
        s.optimizers[3].clip,
        Some(GradClip::Value { clip_value: 0.5 })
    );

    assert_eq!(s.stop.max_steps, 2000);
    assert_eq!(s.stop.loss_below, Some(1e-8));
    assert_eq!(s.stop.patience, Some(300));
    assert_eq!(s.stop.diverge_above, 1e10);
    assert_eq!(s.stop.max_evaluations, None);

    assert_eq!(s.view.x_range, Some((-2.0, 2.0)));
    assert!(s.view.log_scale);
    assert_eq!(s.view.plane, Plane::Params(0, 1));
    assert_eq!(s.view.levels, 20);
    assert_eq!(s.view.trail, Some(500));
    assert_eq!(
        s.view.show,
        Some(vec!["adam".to_string(), "adam-2".to_string()])
    );

    let checks: Vec<(&str, &Check)> = s
        .expect
        .iter()
        .map(|e| (e.label.as_str(), &e.check))
        .collect();
    assert_eq!(
        checks,
        [
            ("adam", &Check::FinalLossBelow(0.01)),
            ("adam", &Check::Status(StatusName::Converged)),
            ("adam", &Check::DistanceToMinimumBelow(0.1)),
            ("plain", &Check::Status(StatusName::Stopped)),
            ("sgd", &Check::BestLossBelow(1.0)),
            ("sgd", &Check::ConvergedWithinSteps(2000)),
        ]
    );
}

#[test]
fn moons_loads_a_model_objective() {
    let s = valid("moons_mlp.yaml");
    let Objective::Model(m) = &s.objective else {
        panic!("expected a model")
    };
    assert_eq!(
        m.model,
        ModelSpec::Mlp(MlpSpec {
            layers: vec![2, 16, 16, 1],
            activation: Activations::PerLayer(vec![
                Activation::Tanh,
                Activation::Relu,
                Activation::Identity
            ]),
        })
    );
    assert_eq!(m.loss, LossKind::BceWithLogits);
    assert_eq!(m.l2, 0.0001);
    assert_eq!(
        m.data,
        DataSpec::Generated(Generator::Moons { n: 300, noise: 0.2 })
    );
    assert_eq!(m.batch_size, Some(32));
    assert_eq!(m.init, Init::XAVIER_UNIFORM);
    assert_eq!(m.test_fraction, 0.2);
    assert!(!m.standardize);
    assert_eq!(s.engine, crate::ad::Engine::Reverse);
    assert_eq!(s.view.plane, Plane::Pca);
    let mut plateau = Plateau::default();
    plateau.factor = 0.5;
    plateau.patience = 20;
    assert_eq!(
        s.optimizers[1].schedule,
        Some(Schedule::ReduceOnPlateau(plateau))
    );
    assert_eq!(s.expect[0].check, Check::AccuracyAbove(0.9));
}

#[test]
fn minimal_file_gets_the_defaults() {
    let s = valid("minimal.yaml");
    assert_eq!(s.name, "minimal");
    assert_eq!(s.description, "");
    assert_eq!(s.seed, 0);
    assert_eq!(s.engine, crate::ad::Engine::Reverse);
    assert_eq!(s.stop, crate::session::StopConfig::default());
    assert_eq!(s.stop.max_steps, 1000);
    assert_eq!(s.stop.diverge_above, 1e12);
    assert_eq!(s.view, crate::landscape::ViewSpec::default());
    let labels: Vec<&str> = s.optimizers.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["adam", "adam-2"]);
    assert!(s.optimizers[0].hyperparameters.is_empty());
    assert!(s.expect.is_empty());
}

#[test]
fn custom_model_with_inline_rows() {
    let s = valid("custom_inline.yaml");
    let Objective::Model(m) = &s.objective else {
        panic!("expected a model")
    };
    let ModelSpec::Custom(c) = &m.model else {
        panic!("expected custom")
    };
    assert_eq!(c.params, ["a", "b", "c", "d"]);
    assert_eq!(m.loss, LossKind::HUBER);
    assert_eq!(m.init, Init::Values(vec![1.0, 1.0, 0.0, 0.0]));
    let DataSpec::Inline(d) = &m.data else {
        panic!("expected inline data")
    };
    assert_eq!(d.rows.len(), 4);
    assert_eq!((m.data.features(), m.data.task()), (1, None));
    assert_eq!(s.engine, crate::ad::Engine::Finite);
    let Some(Schedule::OneCycle {
        max_lr,
        total_steps,
        pct_start,
        ..
    }) = &s.optimizers[1].schedule
    else {
        panic!("onecycle")
    };
    assert_eq!((*max_lr, *total_steps, *pct_start), (0.5, Some(1000), 0.3));
}

#[test]
fn every_valid_fixture_loads_from_disk() {
    for entry in std::fs::read_dir(dir("valid")).unwrap() {
        let path = entry.unwrap().path();
        if let Err(e) = load_file(&path) {
            panic!("{}:\n{e}", path.display());
        }
    }
}

#[test]
fn positions_are_on_lines_the_file_has() {
    // A lone CR ends a line for YAML, and for the excerpt under the error too.
    let src = "objective: {expr: \"x^2\", start: [1]}\roptimizers: [adam]\rseed: x\r";
    let e = load_str(src, "cr.yaml").unwrap_err();
    let first = &e.errors()[0];
    assert_eq!((first.line, first.column), (3, 7), "{e}");
    assert_eq!(first.source_line, "seed: x");
    // libyaml (YAML 1.1) also ends lines at NEL, LS and PS; YAML 1.2 and editors do not.
    let e = load_str("name: \"a\u{2028}b\u{85}c\"\nobjective: [\n", "ls.yaml").unwrap_err();
    assert_eq!((e.errors()[0].line, e.errors()[0].column), (3, 1), "{e}");
    // The end of a file without a final line break is on its last line, after its last
    // character (libyaml puts it on a line after the last).
    let e = load_str("objective:\n  expr: \"x^2\"\n  star", "eof.yaml").unwrap_err();
    assert_eq!((e.errors()[0].line, e.errors()[0].column), (3, 7), "{e}");
    // saphyr too, on a last line libyaml takes for a blank one (LS is a line break to it).
    let e = load_str("optimizers: [adam]\n\u{2028}", "eof.yaml").unwrap_err();
    assert_eq!((e.errors()[0].line, e.errors()[0].column), (2, 2), "{e}");
}
