// The fused optimizer kernels, written once over an abstract vector type `Ops<T>` and
// compiled once per instruction set (kernels_<isa>.cpp include this file inside their
// own namespace after defining Ops).
//
// Contract: one pass over memory per step. Each kernel reads param, grad and state
// once and writes param and state once; RMSProp float32 moves 20 bytes per element.
// Every element goes through the same sequence of vector operations wherever it lies:
// a tensor's last partial vector is copied into zero-padded buffers and run through
// the same code, so results do not depend on how the tensor is split among threads.
// Accuracy against the NumPy reference: a few ulp per step (FMA rounds once where
// NumPy rounds twice); see tests/test_kernel.py for the tolerance table. Speed and
// the known weak case (inside the cache the division and the square root, not memory,
// set the pace) are measured by bench/bench_optim.py; figures in bench/README.md.

// Expected in the including namespace: template <class T> struct Ops. The standard
// headers (<cstdint>, <cstring>, <utility>) are included by the including file, outside
// any namespace.

template <class O, class P, class Body>
inline void for_each_vector(const TensorRef& t, std::int64_t begin, std::int64_t end,
                            Body&& body) {
  using T = typename O::Scalar;
  constexpr int kLanes = O::kLanes;
  P* param = static_cast<P*>(t.param);
  const P* grad = static_cast<const P*>(t.grad);
  T* s0 = static_cast<T*>(t.state[0]);
  T* s1 = static_cast<T*>(t.state[1]);
  T* s2 = static_cast<T*>(t.state[2]);

  std::int64_t i = begin;
  for (; i + kLanes <= end; i += kLanes) body(param, grad, s0, s1, s2, i);

  const std::int64_t rest = end - i;
  if (rest <= 0) return;
  P param_tail[kLanes] = {};
  P grad_tail[kLanes] = {};
  T state_tail[3][kLanes] = {};
  T* states[3] = {s0, s1, s2};
  const auto state_bytes = static_cast<std::size_t>(rest) * sizeof(T);
  std::memcpy(param_tail, param + i, static_cast<std::size_t>(rest) * sizeof(P));
  std::memcpy(grad_tail, grad + i, static_cast<std::size_t>(rest) * sizeof(P));
  for (int k = 0; k < 3; ++k) {
    if (states[k]) std::memcpy(state_tail[k], states[k] + i, state_bytes);
  }
  body(param_tail, grad_tail, state_tail[0], state_tail[1], state_tail[2],
       std::int64_t{0});
  std::memcpy(param + i, param_tail, static_cast<std::size_t>(rest) * sizeof(P));
  for (int k = 0; k < 3; ++k) {
    if (states[k]) std::memcpy(states[k] + i, state_tail[k], state_bytes);
  }
}

template <class P, int W, bool kCentered, int M>
void rmsprop_range(const TensorRef& t, std::int64_t begin, std::int64_t end,
                   const RmspropScalars& s) {
  using T = StateOf<P>;
  using O = Ops<T>;
  using V = typename O::V;
  const V sign = O::set1(T(s.sign));
  const V lr = O::set1(T(s.lr));
  const V beta = O::set1(T(s.beta));
  const V one_minus_beta = O::set1(T(1.0 - s.beta));
  const V weight_decay = O::set1(T(s.weight_decay));
  const V decay = O::set1(T(s.decay));
  const V momentum = O::set1(T(s.momentum));
  const V eps_inner = O::set1(T(s.eps_inner));
  const V eps_outer = O::set1(T(s.eps_outer));
  const V zero = O::set1(T(0));

  auto body = [&](P* param, const P* grad, T* square_avg, T* grad_avg,
                  T* momentum_buffer, std::int64_t i) {
    V g = O::mul(O::load_param(grad + i), sign);
    V p = O::load_param(param + i);
    if constexpr (W == kCoupled) g = O::mul_add(weight_decay, p, g);
    const V v =
        O::mul_add(beta, O::load(square_avg + i), O::mul(one_minus_beta, O::mul(g, g)));
    O::store(square_avg + i, v);
    V q = v;
    if constexpr (kCentered) {
      const V m = O::mul_add(beta, O::load(grad_avg + i), O::mul(one_minus_beta, g));
      O::store(grad_avg + i, m);
      // Rounding can push v - m^2 below zero; the clamp keeps the root real.
      q = O::max(zero, O::neg_mul_add(m, m, v));
    }
    const V u = O::div(g, O::add(O::sqrt(O::add(q, eps_inner)), eps_outer));
    if constexpr (W == kDecoupled) p = O::mul(p, decay);
    if constexpr (M == kNoMomentum) {
      p = O::neg_mul_add(lr, u, p);
    } else if constexpr (M == kLrOutside || M == kLrOutsideNesterov) {
      const V b = O::mul_add(momentum, O::load(momentum_buffer + i), u);
      O::store(momentum_buffer + i, b);
      const V direction = M == kLrOutsideNesterov ? O::mul_add(momentum, b, u) : b;
      p = O::neg_mul_add(lr, direction, p);
    } else {
      const V scaled = O::mul(lr, u);
      const V b = O::mul_add(momentum, O::load(momentum_buffer + i), scaled);
      O::store(momentum_buffer + i, b);
      const V direction = M == kLrInsideNesterov ? O::mul_add(momentum, b, scaled) : b;
      p = O::sub(p, direction);
    }
    O::store_param(param + i, p);
  };
  for_each_vector<O, P>(t, begin, end, body);
}

template <class P, int W>
void adagrad_range(const TensorRef& t, std::int64_t begin, std::int64_t end,
                   const AdagradScalars& s) {
  using T = StateOf<P>;
  using O = Ops<T>;
  using V = typename O::V;
  const V sign = O::set1(T(s.sign));
  const V lr = O::set1(T(s.lr));
  const V weight_decay = O::set1(T(s.weight_decay));
  const V eps_inner = O::set1(T(s.eps_inner));
  const V eps_outer = O::set1(T(s.eps_outer));

  auto body = [&](P* param, const P* grad, T* sum, T*, T*, std::int64_t i) {
    V g = O::mul(O::load_param(grad + i), sign);
    const V p = O::load_param(param + i);
    if constexpr (W == kCoupled) g = O::mul_add(weight_decay, p, g);
    const V acc = O::mul_add(g, g, O::load(sum + i));
    O::store(sum + i, acc);
    const V u = O::div(g, O::add(O::sqrt(O::add(acc, eps_inner)), eps_outer));
    O::store_param(param + i, O::neg_mul_add(lr, u, p));
  };
  for_each_vector<O, P>(t, begin, end, body);
}

template <class P, int W, bool kAmsgrad>
void adam_range(const TensorRef& t, std::int64_t begin, std::int64_t end,
                const AdamScalars& s) {
  using T = StateOf<P>;
  using O = Ops<T>;
  using V = typename O::V;
  const V sign = O::set1(T(s.sign));
  const V beta1 = O::set1(T(s.beta1));
  const V one_minus_beta1 = O::set1(T(1.0 - s.beta1));
  const V beta2 = O::set1(T(s.beta2));
  const V one_minus_beta2 = O::set1(T(1.0 - s.beta2));
  const V weight_decay = O::set1(T(s.weight_decay));
  const V decay = O::set1(T(s.decay));
  const V eps = O::set1(T(s.eps));
  const V step_size = O::set1(T(s.step_size));
  const V sqrt_bias_correction2 = O::set1(T(s.sqrt_bias_correction2));

  auto body = [&](P* param, const P* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                  std::int64_t i) {
    V g = O::mul(O::load_param(grad + i), sign);
    V p = O::load_param(param + i);
    if constexpr (W == kCoupled) g = O::mul_add(weight_decay, p, g);
    if constexpr (W == kDecoupled) p = O::mul(p, decay);
    const V m = O::mul_add(beta1, O::load(exp_avg + i), O::mul(one_minus_beta1, g));
    O::store(exp_avg + i, m);
    V v = O::mul_add(beta2, O::load(exp_avg_sq + i),
                     O::mul(one_minus_beta2, O::mul(g, g)));
    O::store(exp_avg_sq + i, v);
    if constexpr (kAmsgrad) {
      v = O::max(O::load(max_exp_avg_sq + i), v);
      O::store(max_exp_avg_sq + i, v);
    }
    const V denom = O::add(O::div(O::sqrt(v), sqrt_bias_correction2), eps);
    O::store_param(param + i, O::neg_mul_add(step_size, O::div(m, denom), p));
  };
  for_each_vector<O, P>(t, begin, end, body);
}

template <class P>
bool all_finite_range(const void* grad_bytes, std::int64_t begin, std::int64_t end) {
  using T = StateOf<P>;
  using O = Ops<T>;
  using V = typename O::V;
  constexpr int kLanes = O::kLanes;
  const P* grad = static_cast<const P*>(grad_bytes);
  const V zero = O::set1(T(0));
  // x * 0 is 0 for every finite x and NaN for NaN and both infinities.
  V acc = zero;
  std::int64_t i = begin;
  for (; i + kLanes <= end; i += kLanes) {
    acc = O::add(acc, O::mul(O::load_param(grad + i), zero));
  }
  if (i < end) {
    P tail[kLanes] = {};
    std::memcpy(tail, grad + i, static_cast<std::size_t>(end - i) * sizeof(P));
    acc = O::add(acc, O::mul(O::load_param(tail), zero));
  }
  return O::all_zero(acc);
}

template <class P, int W, int M>
void fill_rmsprop(KernelTable& table, int dtype) {
  table.rmsprop[dtype][W][0][M] = &rmsprop_range<P, W, false, M>;
  table.rmsprop[dtype][W][1][M] = &rmsprop_range<P, W, true, M>;
}

template <class P, int W, int... M>
void fill_momenta(KernelTable& table, int dtype, std::integer_sequence<int, M...>) {
  (fill_rmsprop<P, W, M>(table, dtype), ...);
}

template <class P, int... W>
void fill_decays(KernelTable& table, int dtype, std::integer_sequence<int, W...>) {
  (fill_momenta<P, W>(table, dtype, std::make_integer_sequence<int, 5>{}), ...);
  ((table.adam[dtype][W][0] = &adam_range<P, W, false>), ...);
  ((table.adam[dtype][W][1] = &adam_range<P, W, true>), ...);
}

// Instantiates every variant for one param dtype.
template <class P>
void fill_dtype(KernelTable& table, DType dtype) {
  const int d = static_cast<int>(dtype);
  table.all_finite[d] = &all_finite_range<P>;
  table.adagrad[d][0] = &adagrad_range<P, kNoDecay>;
  table.adagrad[d][1] = &adagrad_range<P, kCoupled>;
  fill_decays<P>(table, d, std::make_integer_sequence<int, 3>{});
}

inline KernelTable make_table() {
  KernelTable table{};
  fill_dtype<float>(table, DType::kFloat32);
  fill_dtype<double>(table, DType::kFloat64);
  fill_dtype<bf16_t>(table, DType::kBFloat16);
  fill_dtype<f16_t>(table, DType::kFloat16);
  return table;
}
