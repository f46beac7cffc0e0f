#include "runtime/kargs.h"

void sc_kargs_begin(sc_kargs *a, cl_kernel k, const char *name) {
  *a = (sc_kargs){.k = k, .name = name, .rc = CL_SUCCESS};
}

static void set(sc_kargs *a, size_t size, const void *v) {
  const cl_int rc = clSetKernelArg(a->k, a->next, size, v);
  if (rc != CL_SUCCESS && a->rc == CL_SUCCESS) a->rc = rc, a->bad = a->next;
  a->next++;
}

void sc_karg_mem(sc_kargs *a, cl_mem m) {
  set(a, sizeof m, &m);
}

void sc_karg_view_of(sc_kargs *a, sc_view v, size_t elem) {
  if (v.off % elem && a->rc == CL_SUCCESS)
    a->rc = CL_INVALID_VALUE, a->bad = a->next, a->misaligned_at = v.off, a->elem = elem;
  sc_karg_mem(a, v.buf);
  sc_karg_u64(a, v.off / elem);
}

void sc_karg_view(sc_kargs *a, sc_view v) {
  sc_karg_view_of(a, v, 4);
}

void sc_karg_i32(sc_kargs *a, int32_t v) {
  const cl_int x = v;
  set(a, sizeof x, &x);
}

void sc_karg_u64(sc_kargs *a, uint64_t v) {
  const cl_ulong x = v;
  set(a, sizeof x, &x);
}

void sc_karg_f32(sc_kargs *a, float v) {
  const cl_float x = v;
  set(a, sizeof x, &x);
}

int sc_kargs_end(const sc_kargs *a, sc_err *err) {
  if (a->rc == CL_SUCCESS) return 0;
  if (a->misaligned_at)
    return sc_fail(err,
                   "setting argument %u of kernel %s failed: the tensor view starts at byte %zu, not on a %zu-byte "
                   "element (place tensors at multiples of %zu bytes)",
                   a->bad, a->name, a->misaligned_at, a->elem, a->elem);
  return sc_fail(err, "setting argument %u of kernel %s failed: %s", a->bad, a->name, sc_cl_errname(a->rc));
}
