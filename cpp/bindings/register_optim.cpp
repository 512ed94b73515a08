// Python bindings of the optimizer steps: argument checks, then the kernel with the
// GIL released. The Python wrappers in fastrmsprop/functional.py pass arguments by
// position; their docstrings carry the formulas.
#include <pybind11/pybind11.h>

#include "checks.h"
#include "fastrmsprop/fastrmsprop.h"

namespace fastrmsprop {
namespace {

void require(const ArrayList& list, bool needed, const char* why) {
  if (needed && !list.present()) raise_value(std::string(list.name()) + ": " + why);
}

bool py_rmsprop_step(py::handle params, py::handle grads, py::handle square_avgs,
                     py::handle grad_avgs, py::handle momentum_buffers,
                     const RmspropOptions& o, bool skip_nonfinite) {
  check_finite_at_least("lr", o.lr, 0.0);
  check_unit_interval("beta", o.beta);
  check_finite_at_least("eps", o.eps, 0.0);
  check_finite_at_least("weight_decay", o.weight_decay, 0.0);
  check_finite_at_least("momentum", o.momentum, 0.0);
  if (o.nesterov && o.momentum <= 0.0) {
    raise_value("nesterov: requires momentum > 0");
  }
  const ArrayList param_list("params", params);
  const ArrayList grad_list("grads", grads);
  const ArrayList square_avg_list("square_avgs", square_avgs);
  const ArrayList grad_avg_list("grad_avgs", grad_avgs);
  const ArrayList buffer_list("momentum_buffers", momentum_buffers);
  if (!param_list.present()) raise_type("params: expected arrays, got None");
  require(grad_list, true, "required");
  require(square_avg_list, true, "required");
  require(grad_avg_list, o.centered, "required when centered=True");
  require(buffer_list, o.momentum > 0.0, "required when momentum > 0");

  CallBuilder call(param_list);
  call.add_params_and_grads(param_list, grad_list);
  call.add_state(square_avg_list, 0);
  if (o.centered) call.add_state(grad_avg_list, 1);
  if (o.momentum > 0.0) call.add_state(buffer_list, 2);
  call.check_overlaps();

  py::gil_scoped_release release;
  return rmsprop_step(call.data(), call.count(), o, skip_nonfinite);
}

bool py_adagrad_step(py::handle params, py::handle grads, py::handle sums,
                     py::handle steps, const AdagradOptions& o, bool skip_nonfinite) {
  check_finite_at_least("lr", o.lr, 0.0);
  check_finite_at_least("lr_decay", o.lr_decay, 0.0);
  check_finite_at_least("weight_decay", o.weight_decay, 0.0);
  check_finite_at_least("eps", o.eps, 0.0);
  const ArrayList param_list("params", params);
  const ArrayList grad_list("grads", grads);
  const ArrayList sum_list("sums", sums);
  if (!param_list.present()) raise_type("params: expected arrays, got None");
  require(grad_list, true, "required");
  require(sum_list, true, "required");

  CallBuilder call(param_list);
  call.add_params_and_grads(param_list, grad_list);
  call.add_state(sum_list, 0);
  call.set_steps("steps", steps);
  call.check_overlaps();

  py::gil_scoped_release release;
  return adagrad_step(call.data(), call.count(), o, skip_nonfinite);
}

bool py_adam_step(py::handle params, py::handle grads, py::handle exp_avgs,
                  py::handle exp_avg_sqs, py::handle max_exp_avg_sqs, py::handle steps,
                  const AdamOptions& o, bool skip_nonfinite) {
  check_finite_at_least("lr", o.lr, 0.0);
  check_unit_interval("betas[0]", o.beta1);
  check_unit_interval("betas[1]", o.beta2);
  check_finite_at_least("eps", o.eps, 0.0);
  check_finite_at_least("weight_decay", o.weight_decay, 0.0);
  const ArrayList param_list("params", params);
  const ArrayList grad_list("grads", grads);
  const ArrayList exp_avg_list("exp_avgs", exp_avgs);
  const ArrayList exp_avg_sq_list("exp_avg_sqs", exp_avg_sqs);
  const ArrayList max_list("max_exp_avg_sqs", max_exp_avg_sqs);
  if (!param_list.present()) raise_type("params: expected arrays, got None");
  require(grad_list, true, "required");
  require(exp_avg_list, true, "required");
  require(exp_avg_sq_list, true, "required");
  require(max_list, o.amsgrad, "required when amsgrad=True");

  CallBuilder call(param_list);
  call.add_params_and_grads(param_list, grad_list);
  call.add_state(exp_avg_list, 0);
  call.add_state(exp_avg_sq_list, 1);
  if (o.amsgrad) call.add_state(max_list, 2);
  call.set_steps("steps", steps);
  call.check_overlaps();

  py::gil_scoped_release release;
  return adam_step(call.data(), call.count(), o, skip_nonfinite);
}

}  // namespace

void register_optim(py::module_& m) {
  m.def(
      "rmsprop_step",
      [](py::handle params, py::handle grads, py::handle square_avgs,
         py::handle grad_avgs, py::handle momentum_buffers, double lr, double beta,
         double eps, double weight_decay, double momentum, bool centered, bool maximize,
         bool eps_in_sqrt, bool lr_in_momentum, bool decoupled_weight_decay,
         bool nesterov, bool skip_nonfinite) {
        RmspropOptions o;
        o.lr = lr;
        o.beta = beta;
        o.eps = eps;
        o.weight_decay = weight_decay;
        o.momentum = momentum;
        o.centered = centered;
        o.maximize = maximize;
        o.eps_in_sqrt = eps_in_sqrt;
        o.lr_in_momentum = lr_in_momentum;
        o.decoupled_weight_decay = decoupled_weight_decay;
        o.nesterov = nesterov;
        return py_rmsprop_step(params, grads, square_avgs, grad_avgs, momentum_buffers,
                               o, skip_nonfinite);
      },
      "RMSProp step over all tensors; positional arguments as in "
      "fastrmsprop.rmsprop_step. Returns False if skipped for a non-finite grad.");
  m.def(
      "adagrad_step",
      [](py::handle params, py::handle grads, py::handle sums, py::handle steps,
         double lr, double lr_decay, double weight_decay, double eps, bool maximize,
         bool eps_in_sqrt, bool skip_nonfinite) {
        AdagradOptions o;
        o.lr = lr;
        o.lr_decay = lr_decay;
        o.weight_decay = weight_decay;
        o.eps = eps;
        o.maximize = maximize;
        o.eps_in_sqrt = eps_in_sqrt;
        return py_adagrad_step(params, grads, sums, steps, o, skip_nonfinite);
      },
      "Adagrad step over all tensors; positional arguments as in "
      "fastrmsprop.adagrad_step.");
  m.def(
      "adam_step",
      [](py::handle params, py::handle grads, py::handle exp_avgs,
         py::handle exp_avg_sqs, py::handle max_exp_avg_sqs, py::handle steps,
         double lr, double beta1, double beta2, double eps, double weight_decay,
         bool decoupled_weight_decay, bool amsgrad, bool maximize,
         bool skip_nonfinite) {
        AdamOptions o;
        o.lr = lr;
        o.beta1 = beta1;
        o.beta2 = beta2;
        o.eps = eps;
        o.weight_decay = weight_decay;
        o.decoupled_weight_decay = decoupled_weight_decay;
        o.amsgrad = amsgrad;
        o.maximize = maximize;
        return py_adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                            steps, o, skip_nonfinite);
      },
      "Adam/AdamW step over all tensors; positional arguments as in "
      "fastrmsprop.adam_step.");
}

}  // namespace fastrmsprop
