/* safetensors reader and writer (8-byte LE header length, JSON header, raw little-endian data).
 * Used by `scalecl op ...` and checkpoints (model/checkpoint.h). */
#ifndef SCALECL_SAFETENSORS_H
#define SCALECL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum {
  SC_ST_F32,
  SC_ST_F64,
  SC_ST_F16,
  SC_ST_BF16,
  SC_ST_I32,
  SC_ST_I64,
  SC_ST_U8,
  SC_ST_U16,
  SC_ST_U32
} sc_st_dtype;

#define SC_ST_MAX_DIMS 8

typedef struct {
  char *name;
  sc_st_dtype dtype;
  int ndim;
  int64_t shape[SC_ST_MAX_DIMS];
  size_t nbytes;
  const void *data; /* points into the mapped file */
} sc_st_tensor;

typedef struct {
  char path[4096];
  void *map;
  size_t map_size;
  sc_st_tensor *tensors;
  int n;
  char *metadata_json; /* the "__metadata__" object as JSON text, or NULL */
} sc_st_file;

const char *sc_st_dtype_name(sc_st_dtype d);
size_t sc_st_dtype_size(sc_st_dtype d);

/* Opens and validates (header JSON, offsets inside the file, sizes = prod(shape)*dtype size). */
int sc_st_open(sc_st_file *f, const char *path, sc_err *err);
void sc_st_close(sc_st_file *f);
const sc_st_tensor *sc_st_find(const sc_st_file *f, const char *name);
/* Fetches a float tensor converted to float32 (F32 or F64; F16 and BF16 also accepted). shape: expected
 * dims, -1 = any (the actual value is written back), or NULL to check only ndim. Errors name the tensor,
 * the file and what was expected. *out is a malloc'd buffer. sc_st_get_i32 accepts I32, and I64, U8, U16,
 * U32 when every value fits in int32. */
int sc_st_get_f32(const sc_st_file *f, const char *name, int ndim, int64_t *shape, float **out, sc_err *err);
int sc_st_get_i32(const sc_st_file *f, const char *name, int ndim, int64_t *shape, int32_t **out, sc_err *err);

/* F32, F64, F16 or BF16. */
int sc_st_is_float(sc_st_dtype d);
/* Elements [first, first + count) of a float tensor (sc_st_is_float), converted to float32 into dst. */
void sc_st_read_f32(const sc_st_tensor *t, size_t first, size_t count, float *dst);

typedef struct {
  const char *name;
  sc_st_dtype dtype;
  int ndim;
  int64_t shape[SC_ST_MAX_DIMS];
  const void *data;
} sc_st_entry;

/* Writes atomically (temp file + rename). metadata: NULL or pairs of strings, n_meta pairs. */
int sc_st_write(const char *path, const sc_st_entry *entries, int n, const char *const *metadata, int n_meta,
                sc_err *err);

#endif
