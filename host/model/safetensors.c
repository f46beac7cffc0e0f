#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/half.h"
#include "base/names.h"
#include "base/paths.h"

/* The reference implementation refuses headers above 100 MB; so do we, which also bounds cJSON's work. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

static const char *const dtype_names[] = {"F32", "F64", "F16", "BF16", "I32", "I64", "U8", "U16", "U32"};
static const size_t dtype_sizes[] = {4, 8, 2, 2, 4, 8, 1, 2, 4};
#define N_DTYPES ((int)(sizeof dtype_names / sizeof dtype_names[0]))

const char *sc_st_dtype_name(sc_st_dtype d) {
  return (int)d >= 0 && (int)d < N_DTYPES ? dtype_names[d] : "?";
}

size_t sc_st_dtype_size(sc_st_dtype d) {
  return (int)d >= 0 && (int)d < N_DTYPES ? dtype_sizes[d] : 0;
}

static int dtype_parse(const char *s, sc_st_dtype *out) {
  for (int i = 0; i < N_DTYPES; i++)
    if (strcmp(s, dtype_names[i]) == 0) {
      *out = (sc_st_dtype)i;
      return 0;
    }
  return -1;
}

/* "(2, 3)"; negative dimensions (the "any" wildcard of the getters) print as "*". */
static void shape_str(char *buf, size_t len, int ndim, const int64_t *shape) {
  size_t o = (size_t)snprintf(buf, len, "(");
  for (int d = 0; d < ndim && o < len; d++) {
    if (shape[d] < 0)
      o += (size_t)snprintf(buf + o, len - o, d ? ", *" : "*");
    else
      o += (size_t)snprintf(buf + o, len - o, d ? ", %lld" : "%lld", (long long)shape[d]);
  }
  if (o < len) snprintf(buf + o, len - o, ndim == 1 ? ",)" : ")");
}

/* Reads a JSON number that must be a non-negative integer below 2^53 (exact in a double). */
static int json_uint(const cJSON *item, uint64_t *out) {
  if (!cJSON_IsNumber(item)) return -1;
  double v = item->valuedouble;
  if (!(v >= 0) || v > 9007199254740992.0 || v != floor(v)) return -1;
  *out = (uint64_t)v;
  return 0;
}

typedef struct {
  uint64_t begin, end;
  int index;
} st_span;

static int span_cmp(const void *a, const void *b) {
  const st_span *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Parses one tensor entry of the header into t, and its data offsets into begin, end (checked against the shape,
 * not yet against the data section). */
static int parse_entry(const char *path, const cJSON *e, sc_st_tensor *t, uint64_t *begin, uint64_t *end, sc_err *err) {
  const char *name = e->string;
  if (!cJSON_IsObject(e))
    return sc_fail(err, "%s: header entry '%s' is not an object with dtype, shape and data_offsets", path, name);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  if (!cJSON_IsString(dt)) return sc_fail(err, "%s: tensor '%s' has no string field 'dtype'", path, name);
  if (dtype_parse(dt->valuestring, &t->dtype))
    return sc_fail(err, "%s: tensor '%s' has unsupported dtype '%s' (supported: F32 F64 F16 BF16 I32 I64 U8 U16 U32)",
                   path, name, dt->valuestring);
  if (!cJSON_IsArray(sh)) return sc_fail(err, "%s: tensor '%s' has no array field 'shape'", path, name);
  int nd = cJSON_GetArraySize(sh);
  if (nd > SC_ST_MAX_DIMS)
    return sc_fail(err, "%s: tensor '%s' has %d dimensions; at most %d are supported", path, name, nd, SC_ST_MAX_DIMS);
  t->ndim = nd;
  uint64_t count = 1;
  int overflow = 0;
  for (int d = 0; d < nd; d++) {
    uint64_t v;
    if (json_uint(cJSON_GetArrayItem(sh, d), &v))
      return sc_fail(err, "%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, d);
    t->shape[d] = (int64_t)v;
    if (v && count > UINT64_MAX / v) overflow = 1;
    count *= v;
  }
  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || json_uint(cJSON_GetArrayItem(off, 0), begin) ||
      json_uint(cJSON_GetArrayItem(off, 1), end) || *end < *begin)
    return sc_fail(err, "%s: tensor '%s': data_offsets must be [begin, end] with 0 <= begin <= end", path, name);
  uint64_t esz = sc_st_dtype_size(t->dtype);
  char sbuf[256];
  shape_str(sbuf, sizeof sbuf, nd, t->shape);
  if (overflow || count > UINT64_MAX / esz || *end - *begin != count * esz)
    return sc_fail(err,
                   "%s: tensor '%s' (%s %s) spans %llu bytes in data_offsets but its shape needs %llu x %zu bytes; "
                   "the header is inconsistent",
                   path, name, dt->valuestring, sbuf, (unsigned long long)(*end - *begin), (unsigned long long)count,
                   (size_t)esz);
  t->nbytes = (size_t)(*end - *begin);
  return 0;
}

/* The first NUL in the header text, raw or written as the escape \u0000 inside a string, or NULL: cJSON would
 * cut a name there, so "q\u0000x" would read as "q". */
static const char *escaped_nul(const char *h, size_t len) {
  int in_string = 0;
  for (size_t i = 0; i < len; i++) {
    if (h[i] == '\0') return h + i;
    if (h[i] == '"') in_string = !in_string;
    if (!in_string || h[i] != '\\' || i + 1 >= len) continue;
    if (h[i + 1] == 'u' && i + 5 < len && !strncmp(h + i + 2, "0000", 4)) return h + i;
    i++; /* skip the escaped character, so \\ and \" do not confuse the scan */
  }
  return NULL;
}

/* Fails naming the first tensor that appears twice among n records of `stride` bytes whose first member is
 * the name. */
static int check_unique(const char *path, const void *records, size_t stride, int n, sc_err *err) {
  const char **names = sc_malloc((size_t)(n ? n : 1) * sizeof *names, "safetensors tensor names", err);
  if (!names) return -1;
  for (int i = 0; i < n; i++) names[i] = *(const char *const *)((const char *)records + (size_t)i * stride);
  const int dup = sc_find_duplicate(names, n, "safetensors tensor names", err);
  if (dup >= 0) sc_fail(err, "%s: tensor '%s' appears twice", path, names[dup]);
  free(names);
  return dup == -1 ? 0 : -1;
}

int sc_st_open(sc_st_file *f, const char *path, sc_err *err) {
  memset(f, 0, sizeof *f);
  if (snprintf(f->path, sizeof f->path, "%s", path) >= (int)sizeof f->path)
    return sc_fail(err, "path too long: %s", path);
  int fd;
  size_t size;
  if (sc_open_input(path, "safetensors file", &fd, &size, err)) return -1;
  if (size < 8) {
    close(fd);
    return sc_fail(err, "%s: truncated safetensors file (%zu bytes, shorter than the 8-byte header length)", path,
                   size);
  }
  void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);
  if (map == MAP_FAILED) return sc_fail(err, "cannot mmap %s (%zu bytes): %s", path, size, strerror(e));
  f->map = map;
  f->map_size = size;

  const unsigned char *b = map;
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | b[i];
  if (hlen > ST_MAX_HEADER) {
    sc_st_close(f);
    return sc_fail(err, "%s: header length %llu exceeds the 100 MB limit; not a safetensors file?", path,
                   (unsigned long long)hlen);
  }
  if (hlen > size - 8) {
    sc_st_close(f);
    return sc_fail(err, "%s: truncated safetensors file: header says %llu JSON bytes but only %zu bytes follow", path,
                   (unsigned long long)hlen, size - 8);
  }
  if (hlen == 0 || b[8] != '{') {
    sc_st_close(f);
    return sc_fail(err, "%s: header does not start with '{'; not a safetensors file", path);
  }
  const char *hdr = (const char *)b + 8, *end = NULL, *nul = escaped_nul(hdr, (size_t)hlen);
  if (nul) {
    sc_st_close(f);
    return sc_fail(err,
                   "%s: header byte %zu: a NUL character (raw or \\u0000) in a name or value; names must be "
                   "exact strings",
                   path, (size_t)(nul - hdr));
  }
  cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
  if (!root || !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    sc_st_close(f);
    return sc_fail(err, "%s: header is not a valid JSON object", path);
  }
  /* The header is exactly one JSON object, padded with spaces only. */
  for (const char *q = end; q < hdr + hlen; q++)
    if (*q != ' ') {
      sc_fail(err, "%s: header byte %zu: '%c' after the JSON object; only space padding may follow it", path,
              (size_t)(q - hdr), isprint((unsigned char)*q) ? *q : '?');
      cJSON_Delete(root);
      sc_st_close(f);
      return -1;
    }
  const uint64_t data_len = size - 8 - hlen;
  const unsigned char *data = b + 8 + hlen;
  int n = 0;
  for (const cJSON *e2 = root->child; e2; e2 = e2->next)
    if (strcmp(e2->string, "__metadata__") != 0) n++;
  f->tensors = sc_calloc((size_t)n, sizeof *f->tensors, "safetensors tensor table", err);
  st_span *spans = f->tensors ? sc_calloc((size_t)n, sizeof *spans, "safetensors offsets", err) : NULL;
  if (!spans) goto fail;
  for (const cJSON *e2 = root->child; e2; e2 = e2->next) {
    if (strcmp(e2->string, "__metadata__") == 0) {
      if (!cJSON_IsObject(e2)) {
        sc_fail(err, "%s: __metadata__ must be an object of strings", path);
        goto fail;
      }
      for (const cJSON *m = e2->child; m; m = m->next)
        if (!cJSON_IsString(m)) {
          sc_fail(err, "%s: __metadata__ value '%s' is not a string", path, m->string);
          goto fail;
        }
      if (!(f->metadata_json = cJSON_PrintUnformatted(e2))) {
        sc_fail(err, "%s: out of memory printing __metadata__", path);
        goto fail;
      }
      continue;
    }
    sc_st_tensor *t = &f->tensors[f->n];
    st_span *sp = &spans[f->n];
    if (!(t->name = sc_strdup(e2->string, err))) goto fail;
    sp->index = f->n++;
    if (parse_entry(path, e2, t, &sp->begin, &sp->end, err)) goto fail;
    if (sp->end > data_len) {
      sc_fail(err,
              "%s: truncated safetensors file: tensor '%s' needs data bytes [%llu, %llu) but the data section has "
              "%llu bytes",
              path, t->name, (unsigned long long)sp->begin, (unsigned long long)sp->end, (unsigned long long)data_len);
      goto fail;
    }
    t->data = data + sp->begin;
  }
  if (check_unique(path, f->tensors, sizeof *f->tensors, n, err)) goto fail;
  /* Tensors must tile the data section exactly: no overlaps, holes or trailing bytes. */
  qsort(spans, (size_t)n, sizeof *spans, span_cmp);
  uint64_t pos = 0;
  for (int j = 0; j < n; j++) {
    if (spans[j].begin != pos) {
      sc_fail(err, "%s: tensor '%s' starts at data offset %llu but the previous tensor ends at %llu (%s)", path,
              f->tensors[spans[j].index].name, (unsigned long long)spans[j].begin, (unsigned long long)pos,
              spans[j].begin < pos ? "overlap" : "hole");
      goto fail;
    }
    pos = spans[j].end;
  }
  if (pos != data_len) {
    sc_fail(err, "%s: %llu bytes after the last tensor's data; file is corrupt or has trailing garbage", path,
            (unsigned long long)(data_len - pos));
    goto fail;
  }
  free(spans);
  cJSON_Delete(root);
  return 0;
fail:
  free(spans);
  cJSON_Delete(root);
  sc_st_close(f);
  return -1;
}

void sc_st_close(sc_st_file *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
  free(f->tensors);
  free(f->metadata_json);
  if (f->map) munmap(f->map, f->map_size);
  f->tensors = NULL;
  f->metadata_json = NULL;
  f->map = NULL;
  f->n = 0;
}

const sc_st_tensor *sc_st_find(const sc_st_file *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
  return NULL;
}

/* Finds the tensor and checks its shape against ndim/shape (-1 = any, filled in). */
static const sc_st_tensor *lookup(const sc_st_file *f, const char *name, int ndim, int64_t *shape, const char *accepted,
                                  sc_err *err) {
  const sc_st_tensor *t = sc_st_find(f, name);
  if (!t) {
    char have[1024];
    size_t o = 0;
    have[0] = '\0';
    for (int i = 0; i < f->n && o < sizeof have; i++)
      o += (size_t)snprintf(have + o, sizeof have - o, "%s%s", i ? ", " : "", f->tensors[i].name);
    sc_fail(err, "tensor '%s' is missing from %s (it has: %s)", name, f->path, f->n ? have : "no tensors");
    return NULL;
  }
  int bad = t->ndim != ndim;
  for (int d = 0; !bad && shape && d < ndim; d++) bad = shape[d] >= 0 && shape[d] != t->shape[d];
  if (bad) {
    char want[256], got[256];
    if (shape)
      shape_str(want, sizeof want, ndim, shape);
    else
      snprintf(want, sizeof want, "%d dimensions", ndim);
    shape_str(got, sizeof got, t->ndim, t->shape);
    int any = 0;
    for (int d = 0; shape && d < ndim; d++) any |= shape[d] < 0;
    sc_fail(err, "tensor '%s' in %s has shape %s; expected %s%s as %s", name, f->path, got, want,
            any ? " (* = any)" : "", accepted);
    return NULL;
  }
  if (shape)
    for (int d = 0; d < ndim; d++) shape[d] = t->shape[d];
  return t;
}

static size_t numel(const sc_st_tensor *t) {
  size_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
  return n;
}

int sc_st_is_float(sc_st_dtype d) {
  return d == SC_ST_F32 || d == SC_ST_F64 || d == SC_ST_F16 || d == SC_ST_BF16;
}

void sc_st_read_f32(const sc_st_tensor *t, size_t first, size_t count, float *dst) {
  /* Copies go through memcpy: data offsets in the file need not be aligned. F32 needs no conversion. */
  const unsigned char *p = (const unsigned char *)t->data + first * sc_st_dtype_size(t->dtype);
  if (t->dtype == SC_ST_F32) {
    memcpy(dst, p, count * sizeof *dst);
    return;
  }
  for (size_t i = 0; i < count; i++) {
    if (t->dtype == SC_ST_F64) {
      double v;
      memcpy(&v, p + 8 * i, 8);
      dst[i] = (float)v;
    } else {
      uint16_t h;
      memcpy(&h, p + 2 * i, 2);
      if (t->dtype == SC_ST_F16) {
        dst[i] = sc_half_to_float(h);
      } else {
        uint32_t u = (uint32_t)h << 16;
        memcpy(&dst[i], &u, 4);
      }
    }
  }
}

int sc_st_get_f32(const sc_st_file *f, const char *name, int ndim, int64_t *shape, float **out, sc_err *err) {
  *out = NULL;
  const sc_st_tensor *t = lookup(f, name, ndim, shape, "a float tensor (F32, F64, F16 or BF16)", err);
  if (!t) return -1;
  if (!sc_st_is_float(t->dtype))
    return sc_fail(err, "tensor '%s' in %s has dtype %s; expected F32 or F64 (also F16, BF16)", name, f->path,
                   sc_st_dtype_name(t->dtype));
  size_t n = numel(t);
  float *buf = sc_malloc(n * sizeof *buf, name, err);
  if (!buf) return -1;
  sc_st_read_f32(t, 0, n, buf);
  *out = buf;
  return 0;
}

int sc_st_get_i32(const sc_st_file *f, const char *name, int ndim, int64_t *shape, int32_t **out, sc_err *err) {
  *out = NULL;
  const sc_st_tensor *t = lookup(f, name, ndim, shape, "an integer tensor (I32, I64, U8, U16 or U32)", err);
  if (!t) return -1;
  if (t->dtype != SC_ST_I32 && t->dtype != SC_ST_I64 && t->dtype != SC_ST_U8 && t->dtype != SC_ST_U16 &&
      t->dtype != SC_ST_U32)
    return sc_fail(err, "tensor '%s' in %s has dtype %s; expected I32 (also I64, U8, U16, U32 in int32 range)", name,
                   f->path, sc_st_dtype_name(t->dtype));
  size_t n = numel(t);
  int32_t *buf = sc_malloc(n * sizeof *buf, name, err);
  if (!buf) return -1;
  const unsigned char *p = t->data;
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    switch (t->dtype) {
      case SC_ST_I32: {
        int32_t x;
        memcpy(&x, p + 4 * i, 4);
        v = x;
        break;
      }
      case SC_ST_I64:
        memcpy(&v, p + 8 * i, 8);
        break;
      case SC_ST_U8:
        v = p[i];
        break;
      case SC_ST_U16: {
        uint16_t x;
        memcpy(&x, p + 2 * i, 2);
        v = x;
        break;
      }
      default: {
        uint32_t x;
        memcpy(&x, p + 4 * i, 4);
        v = x;
        break;
      }
    }
    if (v < INT32_MIN || v > INT32_MAX) {
      free(buf);
      return sc_fail(err, "tensor '%s' in %s: element %zu = %lld does not fit in int32", name, f->path, i,
                     (long long)v);
    }
    buf[i] = (int32_t)v;
  }
  *out = buf;
  return 0;
}

static int write_all(int fd, const void *data, size_t len, const char *tmp, sc_err *err) {
  const char *p = data;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return sc_fail(err, "write to %s failed: %s (disk full?)", tmp, strerror(errno));
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Builds the header JSON for entries + metadata; returns a malloc'd string padded with spaces so that the data
 * section starts 8-byte aligned, as other writers do. */
static char *build_header(const char *path, const sc_st_entry *entries, int n, const char *const *metadata, int n_meta,
                          size_t *hlen, sc_err *err) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return sc_fail(err, "out of memory building the header of %s", path), NULL;
  if (n_meta > 0) {
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    for (int i = 0; m && i < n_meta; i++)
      if (!metadata[2 * i] || !metadata[2 * i + 1] || !cJSON_AddStringToObject(m, metadata[2 * i], metadata[2 * i + 1]))
        m = NULL;
    if (!m) {
      cJSON_Delete(root);
      return sc_fail(err, "%s: invalid __metadata__ pair (NULL key or value, or out of memory)", path), NULL;
    }
  }
  uint64_t off = 0;
  for (int i = 0; i < n; i++) {
    const sc_st_entry *e = &entries[i];
    const char *bad = NULL;
    if (!e->name || !*e->name || strcmp(e->name, "__metadata__") == 0) bad = "empty or reserved name";
    if (!bad && ((int)e->dtype < 0 || (int)e->dtype >= N_DTYPES)) bad = "unknown dtype";
    if (!bad && (e->ndim < 0 || e->ndim > SC_ST_MAX_DIMS)) bad = "bad number of dimensions";
    uint64_t count = 1;
    for (int d = 0; !bad && d < e->ndim; d++) {
      if (e->shape[d] < 0) bad = "negative dimension";
      count *= (uint64_t)(e->shape[d] < 0 ? 0 : e->shape[d]);
    }
    if (!bad && count && !e->data) bad = "NULL data";
    if (bad) {
      cJSON_Delete(root);
      return sc_fail(err, "cannot write %s: entry %d ('%s'): %s", path, i, e->name ? e->name : "(null)", bad), NULL;
    }
    cJSON *t = cJSON_AddObjectToObject(root, e->name);
    double shp[SC_ST_MAX_DIMS], offs[2] = {(double)off, (double)(off + count * sc_st_dtype_size(e->dtype))};
    for (int d = 0; d < e->ndim; d++) shp[d] = (double)e->shape[d];
    off += count * sc_st_dtype_size(e->dtype);
    if (!t || !cJSON_AddStringToObject(t, "dtype", sc_st_dtype_name(e->dtype)) ||
        !cJSON_AddItemToObject(t, "shape", e->ndim ? cJSON_CreateDoubleArray(shp, e->ndim) : cJSON_CreateArray()) ||
        !cJSON_AddItemToObject(t, "data_offsets", cJSON_CreateDoubleArray(offs, 2))) {
      cJSON_Delete(root);
      return sc_fail(err, "out of memory building the header of %s", path), NULL;
    }
  }
  if (check_unique(path, entries, sizeof *entries, n, err)) {
    cJSON_Delete(root);
    return sc_wrap(err, "cannot write: duplicate name: "), NULL;
  }
  char *js = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!js) return sc_fail(err, "out of memory printing the header of %s", path), NULL;
  size_t len = strlen(js), padded = (len + 7) / 8 * 8;
  char *h = sc_malloc(padded + 1, "safetensors header", err);
  if (h) {
    memcpy(h, js, len);
    memset(h + len, ' ', padded - len);
    h[padded] = '\0';
    *hlen = padded;
  }
  free(js);
  return h;
}

int sc_st_write(const char *path, const sc_st_entry *entries, int n, const char *const *metadata, int n_meta,
                sc_err *err) {
  size_t hlen;
  char *header = build_header(path, entries, n, metadata, n_meta, &hlen, err);
  if (!header) return -1;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
    free(header);
    return sc_fail(err, "path too long: %s", path);
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    free(header);
    return sc_fail(err, "cannot create %s: %s", tmp, strerror(errno));
  }
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
  int rc = write_all(fd, len8, 8, tmp, err) || write_all(fd, header, hlen, tmp, err) ? -1 : 0;
  free(header);
  for (int i = 0; rc == 0 && i < n; i++) {
    size_t count = 1;
    for (int d = 0; d < entries[i].ndim; d++) count *= (size_t)entries[i].shape[d];
    if (count) rc = write_all(fd, entries[i].data, count * sc_st_dtype_size(entries[i].dtype), tmp, err);
  }
  if (rc == 0 && fsync(fd) != 0) rc = sc_fail(err, "cannot flush %s: %s", tmp, strerror(errno));
  if (close(fd) != 0 && rc == 0) rc = sc_fail(err, "cannot close %s: %s", tmp, strerror(errno));
  if (rc == 0 && rename(tmp, path) != 0) rc = sc_fail(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (rc) unlink(tmp);
  return rc;
}
