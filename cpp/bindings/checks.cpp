// Argument checks for the optimizer bindings; see checks.h.
#include "checks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace fastrmsprop {
namespace {

struct Range {
  std::uintptr_t lo;
  std::uintptr_t hi;
  bool written;
  const ArrayList* list;
  std::int64_t index;
};

// Buffers reused across calls of one thread. A CallBuilder marks them busy so a
// re-entrant call (impossible today: the kernels never call back into Python) would
// fail loudly rather than share them.
struct Scratch {
  std::vector<TensorRef> tensors;
  std::vector<Range> ranges;
  bool busy = false;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat16:
      return "float16";
  }
  return "?";
}

DType state_dtype(DType param) {
  return param == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
}

// numpy's type numbers of the built-in dtypes we accept.
constexpr int kNpyFloat = 11;
constexpr int kNpyDouble = 12;
constexpr int kNpyHalf = 23;
constexpr int kNpyUserDefined = 256;

// bfloat16 comes from a third-party dtype (ml_dtypes) with a type number assigned at
// registration: learn it from the dtype's name the first time we meet it.
int g_bfloat16_num = -1;

std::string describe_dtype(PyObject* descr) {
  return py::str(py::handle(descr)).cast<std::string>();
}

bool dtype_of(PyObject* descr, DType* out) {
  const int num = py::detail::array_descriptor_proxy(descr)->type_num;
  switch (num) {
    case kNpyFloat:
      *out = DType::kFloat32;
      return true;
    case kNpyDouble:
      *out = DType::kFloat64;
      return true;
    case kNpyHalf:
      *out = DType::kFloat16;
      return true;
    default:
      break;
  }
  if (num >= kNpyUserDefined) {
    if (num == g_bfloat16_num) {
      *out = DType::kBFloat16;
      return true;
    }
    py::handle dtype(descr);
    if (g_bfloat16_num < 0 && dtype.attr("name").cast<std::string>() == "bfloat16" &&
        dtype.attr("itemsize").cast<int>() == 2) {
      g_bfloat16_num = num;
      *out = DType::kBFloat16;
      return true;
    }
  }
  return false;
}

bool native_order(PyObject* descr) {
  const char order = py::detail::array_descriptor_proxy(descr)->byteorder;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  constexpr char kNonNative = '<';
#else
  constexpr char kNonNative = '>';
#endif
  return order != kNonNative;
}

constexpr int kCContiguous = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_;
constexpr int kWriteable = py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
constexpr int kAligned = py::detail::npy_api::NPY_ARRAY_ALIGNED_;

struct ArrayView {
  PyObject* object;
  void* data;
  int ndim;
  const Py_intptr_t* shape;
  const Py_intptr_t* strides;
  int flags;
  PyObject* descr;
  std::int64_t size;
};

ArrayView view_of(const ArrayList& list, std::int64_t i) {
  py::handle h = list.at(i);
  if (!py::isinstance<py::array>(h)) {
    raise_type(list.label(i) + ": expected a numpy.ndarray, got " +
               std::string(Py_TYPE(h.ptr())->tp_name));
  }
  auto* proxy = py::detail::array_proxy(h.ptr());
  ArrayView v{h.ptr(),        proxy->data,  proxy->nd,    proxy->dimensions,
              proxy->strides, proxy->flags, proxy->descr, 1};
  for (int k = 0; k < v.ndim; ++k) v.size *= v.shape[k];
  return v;
}

std::string shape_string(const ArrayView& v) {
  std::ostringstream out;
  out << '(';
  for (int k = 0; k < v.ndim; ++k) out << (k ? ", " : "") << v.shape[k];
  if (v.ndim == 1) out << ',';
  out << ')';
  return out.str();
}

bool same_shape(const ArrayView& a, const ArrayView& b) {
  if (a.ndim != b.ndim) return false;
  for (int k = 0; k < a.ndim; ++k) {
    if (a.shape[k] != b.shape[k]) return false;
  }
  return true;
}

// The bytes an array may touch, whatever its strides.
Range extent(const ArrayView& v, std::size_t itemsize) {
  auto base = reinterpret_cast<std::uintptr_t>(v.data);
  std::intptr_t low = 0, high = 0;
  for (int k = 0; k < v.ndim; ++k) {
    const std::intptr_t span = (v.shape[k] - 1) * v.strides[k];
    (span < 0 ? low : high) += span;
  }
  return Range{base + low, base + high + itemsize, false, nullptr, 0};
}

void check_writable(const ArrayList& list, std::int64_t i, const ArrayView& v) {
  if (!(v.flags & kCContiguous)) {
    raise_value(list.label(i) +
                ": expected a C-contiguous array (it is updated in "
                "place, so it cannot be copied); pass np.ascontiguousarray(...) once "
                "and keep that array");
  }
  if (!(v.flags & kWriteable)) raise_value(list.label(i) + ": array is read-only");
  if (!(v.flags & kAligned)) {
    raise_value(list.label(i) + ": array is not aligned to its dtype");
  }
  if (!native_order(v.descr)) {
    raise_type(list.label(i) + ": expected native byte order, got " +
               describe_dtype(v.descr));
  }
}

}  // namespace

void raise_value(const std::string& message) {
  PyErr_SetString(PyExc_ValueError, message.c_str());
  throw py::error_already_set();
}

void raise_type(const std::string& message) {
  PyErr_SetString(PyExc_TypeError, message.c_str());
  throw py::error_already_set();
}

void check_finite_at_least(const char* name, double value, double low) {
  if (!std::isfinite(value) || value < low) {
    std::ostringstream out;
    out << name << ": expected a finite number >= " << low << ", got " << value;
    raise_value(out.str());
  }
}

void check_unit_interval(const char* name, double value) {
  if (!std::isfinite(value) || value < 0.0 || value >= 1.0) {
    std::ostringstream out;
    out << name << ": expected a number in [0, 1), got " << value;
    raise_value(out.str());
  }
}

ArrayList::ArrayList(const char* name, py::handle object) : name_(name) {
  if (object.is_none()) return;
  present_ = true;
  if (py::isinstance<py::array>(object)) {
    single_ = true;
    size_ = 1;
    items_ = py::reinterpret_borrow<py::object>(object);
    return;
  }
  if (PyList_Check(object.ptr()) || PyTuple_Check(object.ptr())) {
    items_ = py::reinterpret_borrow<py::object>(object);
  } else if (PySequence_Check(object.ptr()) && !PyUnicode_Check(object.ptr())) {
    items_ = py::reinterpret_steal<py::object>(PySequence_List(object.ptr()));
    if (!items_) throw py::error_already_set();
  } else {
    raise_type(std::string(name) +
               ": expected a numpy.ndarray or a sequence of them, "
               "got " +
               Py_TYPE(object.ptr())->tp_name);
  }
  size_ = static_cast<std::int64_t>(PySequence_Fast_GET_SIZE(items_.ptr()));
}

const char* ArrayList::type_name() const {
  return items_ ? Py_TYPE(items_.ptr())->tp_name : "None";
}

// Every list argument takes the form of params: a mix of one array and a sequence is
// a mistake at the call site, and taking it would hide that.
static void check_same_form(const ArrayList& params, const ArrayList& other) {
  if (params.single() == other.single()) return;
  raise_type(std::string(other.name()) + ": expected " +
             (params.single() ? "a numpy.ndarray like params"
                              : "a list or tuple of arrays like params") +
             ", got " + other.type_name());
}

py::handle ArrayList::at(std::int64_t i) const {
  if (single_) return items_;
  return PySequence_Fast_GET_ITEM(items_.ptr(), static_cast<Py_ssize_t>(i));
}

std::string ArrayList::label(std::int64_t i) const {
  if (single_) return name_;
  return std::string(name_) + "[" + std::to_string(i) + "]";
}

CallBuilder::CallBuilder(const ArrayList& params)
    : count_(params.size()), params_(&params) {
  Scratch& s = scratch();
  if (s.busy) raise_value("fastrmsprop: re-entrant optimizer call on one thread");
  s.busy = true;
  s.tensors.assign(static_cast<std::size_t>(count_), TensorRef{});
  s.ranges.clear();
}

CallBuilder::~CallBuilder() { scratch().busy = false; }

const TensorRef* CallBuilder::data() const { return scratch().tensors.data(); }

void CallBuilder::add_params_and_grads(const ArrayList& params,
                                       const ArrayList& grads) {
  Scratch& s = scratch();
  check_same_form(params, grads);
  if (grads.size() != params.size()) {
    raise_value(std::string("grads: expected ") + std::to_string(params.size()) +
                " arrays (one per param), got " + std::to_string(grads.size()));
  }
  for (std::int64_t i = 0; i < count_; ++i) {
    const ArrayView p = view_of(params, i);
    DType dtype;
    if (!dtype_of(p.descr, &dtype)) {
      raise_type(params.label(i) +
                 ": expected dtype float32, float64, float16 or "
                 "bfloat16, got " +
                 describe_dtype(p.descr));
    }
    check_writable(params, i, p);
    TensorRef& t = s.tensors[static_cast<std::size_t>(i)];
    t.param = p.data;
    t.size = p.size;
    t.dtype = dtype;
    t.step = 1;

    ArrayView g = view_of(grads, i);
    DType grad_dtype;
    if (!dtype_of(g.descr, &grad_dtype) || grad_dtype != dtype ||
        !native_order(g.descr)) {
      raise_type(grads.label(i) + ": expected dtype " + dtype_name(dtype) +
                 " (the dtype of its param), got " + describe_dtype(g.descr));
    }
    if (!same_shape(p, g)) {
      raise_value(grads.label(i) + ": expected shape " + shape_string(p) +
                  " (the shape of its param), got " + shape_string(g));
    }
    const std::size_t itemsize = dtype == DType::kFloat64   ? 8
                                 : dtype == DType::kFloat32 ? 4
                                                            : 2;
    if (p.size > 0) {
      Range r = extent(p, itemsize);
      s.ranges.push_back(Range{r.lo, r.hi, true, &params, i});
      r = extent(g, itemsize);
      s.ranges.push_back(Range{r.lo, r.hi, false, &grads, i});
    }
    if (!(g.flags & kCContiguous) || !(g.flags & kAligned)) {
      // A grad is only read, so reading it through a contiguous copy loses nothing.
      py::array copy = py::array::ensure(g.object, kCContiguous | kAligned);
      if (!copy) throw py::error_already_set();
      t.grad = py::detail::array_proxy(copy.ptr())->data;
      grad_copies_.push_back(std::move(copy));
    } else {
      t.grad = g.data;
    }
  }
}

void CallBuilder::add_state(const ArrayList& states, int slot) {
  Scratch& s = scratch();
  check_same_form(*params_, states);
  if (states.size() != count_) {
    raise_value(std::string(states.name()) + ": expected " + std::to_string(count_) +
                " arrays (one per param), got " + std::to_string(states.size()));
  }
  for (std::int64_t i = 0; i < count_; ++i) {
    TensorRef& t = s.tensors[static_cast<std::size_t>(i)];
    const ArrayView v = view_of(states, i);
    DType dtype;
    const DType expected = state_dtype(t.dtype);
    if (!dtype_of(v.descr, &dtype) || dtype != expected) {
      std::string why = t.dtype == expected
                            ? " (the dtype of its param)"
                            : " (the state dtype of a " +
                                  std::string(dtype_name(t.dtype)) + " param)";
      raise_type(states.label(i) + ": expected dtype " + dtype_name(expected) + why +
                 ", got " + describe_dtype(v.descr));
    }
    const ArrayView p = view_of(*params_, i);
    if (!same_shape(p, v)) {
      raise_value(states.label(i) + ": expected shape " + shape_string(p) +
                  " (the shape of its param), got " + shape_string(v));
    }
    check_writable(states, i, v);
    t.state[slot] = v.data;
    if (v.size > 0) {
      const Range r = extent(v, dtype == DType::kFloat64 ? 8 : 4);
      s.ranges.push_back(Range{r.lo, r.hi, true, &states, i});
    }
  }
}

void CallBuilder::set_steps(const char* name, py::handle steps) {
  Scratch& s = scratch();
  auto read = [&](py::handle h, const std::string& label) -> std::int64_t {
    if (!PyLong_Check(h.ptr()) && !PyIndex_Check(h.ptr())) {
      raise_type(label + ": expected an int, got " + Py_TYPE(h.ptr())->tp_name);
    }
    if (PyBool_Check(h.ptr())) raise_type(label + ": expected an int, got bool");
    const long long value = PyLong_AsLongLong(h.ptr());
    if (value == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (value < 1) {
      raise_value(label + ": expected a step number >= 1, got " +
                  std::to_string(value));
    }
    return value;
  };
  // An int, or any integer scalar such as numpy.int64; sequences go below.
  if (PyLong_Check(steps.ptr()) ||
      (PyIndex_Check(steps.ptr()) && !PySequence_Check(steps.ptr()))) {
    const std::int64_t step = read(steps, name);
    for (TensorRef& t : s.tensors) t.step = step;
    return;
  }
  ArrayList list(name, steps);
  if (list.size() != count_) {
    raise_value(std::string(name) + ": expected an int or " + std::to_string(count_) +
                " ints (one per param), got " + std::to_string(list.size()));
  }
  for (std::int64_t i = 0; i < count_; ++i) {
    s.tensors[static_cast<std::size_t>(i)].step = read(list.at(i), list.label(i));
  }
}

void CallBuilder::check_overlaps() {
  Scratch& s = scratch();
  std::sort(s.ranges.begin(), s.ranges.end(),
            [](const Range& a, const Range& b) { return a.lo < b.lo; });
  // Sweep in address order, remembering the earlier range reaching furthest and the
  // written one reaching furthest: any overlap with a written array shows up here.
  const Range* furthest = nullptr;
  const Range* furthest_written = nullptr;
  for (const Range& r : s.ranges) {
    const Range* other = nullptr;
    if (furthest_written && r.lo < furthest_written->hi) {
      other = furthest_written;
    } else if (r.written && furthest && r.lo < furthest->hi) {
      other = furthest;
    }
    if (other) {
      const Range& w = other->written ? *other : r;
      const Range& x = other->written ? r : *other;
      raise_value(w.list->label(w.index) + ": overlaps " + x.list->label(x.index) +
                  " in memory; an array that is written must not share memory with "
                  "any other argument");
    }
    if (!furthest || r.hi > furthest->hi) furthest = &r;
    if (r.written && (!furthest_written || r.hi > furthest_written->hi)) {
      furthest_written = &r;
    }
  }
}

}  // namespace fastrmsprop
