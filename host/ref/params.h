/* Parameter tables of the float64 model references: all of a model's parameters live in one contiguous
 * double array, and the table lists each tensor with its Hugging Face key (hf-checkpoints.md), shape
 * (rows, cols; cols = 0 for a vector) and offset into that array, in the model's order. A gradient array of
 * the same layout is read with the same table, so a device model's gradients can be compared tensor by
 * tensor. Also the seeded normal fill used by the references' inits. */
#ifndef SCALECL_REF_PARAMS_H
#define SCALECL_REF_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct {
  char name[96];     /* e.g. "model.layers.0.self_attn.q_proj.weight" */
  size_t rows, cols; /* (out, in) for a linear weight; cols = 0 for a vector */
  size_t offset;     /* first element in the parameter array */
  size_t size;       /* rows · max(cols, 1) */
} sc_ref_tensor;

typedef struct {
  sc_ref_tensor *t;
  size_t n, cap;
  size_t total; /* elements of the parameter array */
} sc_ref_params;

/* Appends a tensor named by a printf format; returns its index, or -1 with err set. */
int sc_ref_params_add(sc_ref_params *p, size_t rows, size_t cols, sc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The tensor with that exact name, or NULL. */
const sc_ref_tensor *sc_ref_params_find(const sc_ref_params *p, const char *name);
void sc_ref_params_free(sc_ref_params *p);

/* x[0..n) ~ N(0, std²) from the splitmix64 state *rng (advanced). */
void sc_ref_fill_normal(double *x, size_t n, double std, uint64_t *rng);

#endif
