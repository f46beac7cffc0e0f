/* safetensors reader/writer: hand-made files in the published byte layout, round trips of every dtype, and
 * every rejection path (truncation, inconsistent headers, wrong dtype/shape, missing tensors). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/safetensors.h"

static char dir[4096];

static const char *tmp_path(const char *name) {
  static char buf[8192];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

/* Writes 8-byte LE header length + header + data, as the format's specification lays it out. */
static void write_raw(const char *path, const char *header, const void *data, size_t dlen) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  uint64_t h = strlen(header);
  unsigned char l[8];
  for (int i = 0; i < 8; i++) l[i] = (unsigned char)(h >> (8 * i));
  assert_int_equal(fwrite(l, 1, 8, f), 8);
  assert_int_equal(fwrite(header, 1, h, f), h);
  if (dlen) assert_int_equal(fwrite(data, 1, dlen, f), dlen);
  fclose(f);
}

static void expect_open_error(const char *path, const char *const *needles) {
  sc_st_file f;
  sc_err err = {{0}};
  assert_int_equal(sc_st_open(&f, path, &err), -1);
  printf("  expected error: %s\n", err.msg);
  for (int i = 0; needles[i]; i++)
    if (!strstr(err.msg, needles[i])) fail_msg("error '%s' lacks '%s'", err.msg, needles[i]);
  assert_null(f.map);
}

static void test_reads_handmade_file(void **state) {
  (void)state;
  /* Unaligned data start (header length 75 is odd) and tensors listed out of offset order. */
  const char *hdr =
      "{\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  unsigned char data[16];
  float a[2] = {1.5f, -2.0f};
  int64_t b = -7;
  memcpy(data, a, 8);
  memcpy(data + 8, &b, 8);
  const char *p = tmp_path("hand.safetensors");
  write_raw(p, hdr, data, sizeof data);
  sc_st_file f;
  sc_err err = {{0}};
  if (sc_st_open(&f, p, &err)) fail_msg("%s", err.msg);
  assert_int_equal(f.n, 2);
  assert_null(f.metadata_json);
  const sc_st_tensor *ta = sc_st_find(&f, "a"), *tb = sc_st_find(&f, "b");
  assert_non_null(ta);
  assert_non_null(tb);
  assert_null(sc_st_find(&f, "c"));
  assert_int_equal(ta->dtype, SC_ST_F32);
  assert_int_equal(ta->ndim, 1);
  assert_int_equal(ta->shape[0], 2);
  assert_int_equal(ta->nbytes, 8);
  assert_int_equal(tb->dtype, SC_ST_I64);
  assert_int_equal(tb->ndim, 0);
  int64_t shp[1] = {-1};
  float *x;
  if (sc_st_get_f32(&f, "a", 1, shp, &x, &err)) fail_msg("%s", err.msg);
  assert_int_equal(shp[0], 2);
  assert_true(x[0] == 1.5f && x[1] == -2.0f);
  free(x);
  int32_t *y;
  if (sc_st_get_i32(&f, "b", 0, NULL, &y, &err)) fail_msg("%s", err.msg);
  assert_int_equal(y[0], -7);
  free(y);
  sc_st_close(&f);
}

static void test_roundtrip_all_dtypes(void **state) {
  (void)state;
  double f64[6] = {1e-40, -3.25, 1e30, 0.1, -0.0, 7};
  float f32[3] = {1, 2, 3};
  uint16_t bf16[2] = {0x3fc0, 0xc020};        /* 1.5, -2.5 */
  uint16_t f16[3] = {0x3c00, 0xc500, 0x0001}; /* 1, -5, 2^-24 */
  int32_t i32[2] = {INT32_MIN, 5};
  int64_t i64[2] = {-3, 4000000000LL};
  uint8_t u8[3] = {0, 200, 255};
  uint16_t u16[1] = {65535};
  uint32_t u32[1] = {123456};
  sc_st_entry e[] = {
      {"f64", SC_ST_F64, 2, {2, 3}, f64},    {"f32", SC_ST_F32, 1, {3}, f32},    {"bf16", SC_ST_BF16, 1, {2}, bf16},
      {"f16", SC_ST_F16, 1, {3}, f16},       {"i32", SC_ST_I32, 2, {1, 2}, i32}, {"i64", SC_ST_I64, 1, {2}, i64},
      {"u8", SC_ST_U8, 1, {3}, u8},          {"u16", SC_ST_U16, 1, {1}, u16},    {"u32", SC_ST_U32, 1, {1}, u32},
      {"empty", SC_ST_F32, 2, {0, 4}, NULL}, {"scalar", SC_ST_F32, 0, {0}, f32},
  };
  const int n = (int)(sizeof e / sizeof e[0]);
  const char *meta[] = {"format", "pt", "note", "x \"quoted\""};
  const char *p = tmp_path("rt.safetensors");
  sc_err err = {{0}};
  if (sc_st_write(p, e, n, meta, 2, &err)) fail_msg("%s", err.msg);

  /* Byte layout: LE length, JSON starting with '{', data 8-byte aligned. */
  FILE *fp = fopen(p, "rb");
  unsigned char l[8];
  assert_int_equal(fread(l, 1, 8, fp), 8);
  fclose(fp);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | l[i];
  assert_int_equal(hl % 8, 0);

  sc_st_file f;
  if (sc_st_open(&f, p, &err)) fail_msg("%s", err.msg);
  assert_int_equal(f.n, n);
  assert_non_null(f.metadata_json);
  assert_non_null(strstr(f.metadata_json, "\"format\":\"pt\""));
  assert_non_null(strstr(f.metadata_json, "x \\\"quoted\\\""));
  for (int i = 0; i < n; i++) {
    const sc_st_tensor *t = sc_st_find(&f, e[i].name);
    assert_non_null(t);
    assert_int_equal(t->dtype, e[i].dtype);
    assert_int_equal(t->ndim, e[i].ndim);
    size_t cnt = 1;
    for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], e[i].shape[d]), cnt *= (size_t)e[i].shape[d];
    assert_int_equal(t->nbytes, cnt * sc_st_dtype_size(e[i].dtype));
    if (cnt) assert_memory_equal(t->data, e[i].data, t->nbytes);
  }
  float *x;
  int64_t s2[2] = {2, -1};
  if (sc_st_get_f32(&f, "f64", 2, s2, &x, &err)) fail_msg("%s", err.msg);
  assert_int_equal(s2[1], 3);
  for (int i = 0; i < 6; i++) assert_true(x[i] == (float)f64[i]);
  free(x);
  if (sc_st_get_f32(&f, "bf16", 1, NULL, &x, &err)) fail_msg("%s", err.msg);
  assert_true(x[0] == 1.5f && x[1] == -2.5f);
  free(x);
  if (sc_st_get_f32(&f, "f16", 1, NULL, &x, &err)) fail_msg("%s", err.msg);
  assert_true(x[0] == 1.0f && x[1] == -5.0f && x[2] == 0x1p-24f);
  free(x);
  int64_t s0[2] = {0, 4};
  if (sc_st_get_f32(&f, "empty", 2, s0, &x, &err)) fail_msg("%s", err.msg);
  free(x);
  int32_t *y;
  if (sc_st_get_i32(&f, "i32", 2, NULL, &y, &err)) fail_msg("%s", err.msg);
  assert_true(y[0] == INT32_MIN && y[1] == 5);
  free(y);
  if (sc_st_get_i32(&f, "u8", 1, NULL, &y, &err)) fail_msg("%s", err.msg);
  assert_true(y[0] == 0 && y[1] == 200 && y[2] == 255);
  free(y);
  if (sc_st_get_i32(&f, "u16", 1, NULL, &y, &err)) fail_msg("%s", err.msg);
  assert_int_equal(y[0], 65535);
  free(y);
  if (sc_st_get_i32(&f, "u32", 1, NULL, &y, &err)) fail_msg("%s", err.msg);
  assert_int_equal(y[0], 123456);
  free(y);
  /* 4e9 does not fit in int32: refused, naming the tensor. */
  assert_int_equal(sc_st_get_i32(&f, "i64", 1, NULL, &y, &err), -1);
  assert_null(y);
  assert_non_null(strstr(err.msg, "'i64'"));
  sc_st_close(&f);

  /* Overwrite is atomic: the new content replaces the old and no temporary file is left. */
  if (sc_st_write(p, e + 1, 1, NULL, 0, &err)) fail_msg("%s", err.msg);
  if (sc_st_open(&f, p, &err)) fail_msg("%s", err.msg);
  assert_int_equal(f.n, 1);
  assert_null(f.metadata_json);
  sc_st_close(&f);
  DIR *d = opendir(dir);
  for (struct dirent *de; (de = readdir(d));)
    if (strstr(de->d_name, ".tmp.")) fail_msg("temporary file %s left behind", de->d_name);
  closedir(d);
}

static void test_getter_errors(void **state) {
  (void)state;
  float q[2 * 3] = {0};
  int32_t ids[2] = {1, 2};
  sc_st_entry e[] = {{"q", SC_ST_F32, 2, {2, 3}, q}, {"ids", SC_ST_I32, 1, {2}, ids}};
  const char *p = tmp_path("get.safetensors");
  sc_err err = {{0}};
  if (sc_st_write(p, e, 2, NULL, 0, &err)) fail_msg("%s", err.msg);
  sc_st_file f;
  if (sc_st_open(&f, p, &err)) fail_msg("%s", err.msg);
  float *x = (float *)1;
  struct {
    const char *name;
    int ndim;
    int64_t shape[2];
    const char *needles[4];
  } cases[] = {
      {"dh", 2, {2, 3}, {"'dh'", "missing", "get.safetensors", "q, ids"}},
      {"q", 2, {2, 4}, {"'q'", "(2, 3)", "expected (2, 4)", "get.safetensors"}},
      {"q", 3, {2, 3}, {"'q'", "(2, 3)", "expected (2, 3, *)", NULL}},
      {"q", 2, {-1, 2}, {"'q'", "expected (*, 2)", NULL, NULL}},
      {"ids", 1, {2}, {"'ids'", "dtype I32", "expected F32 or F64", "get.safetensors"}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t shp[3] = {cases[i].shape[0], cases[i].shape[1], -1};
    assert_int_equal(sc_st_get_f32(&f, cases[i].name, cases[i].ndim, shp, &x, &err), -1);
    assert_null(x);
    printf("  expected error: %s\n", err.msg);
    for (int k = 0; k < 4 && cases[i].needles[k]; k++)
      if (!strstr(err.msg, cases[i].needles[k])) fail_msg("error '%s' lacks '%s'", err.msg, cases[i].needles[k]);
  }
  int32_t *y;
  assert_int_equal(sc_st_get_i32(&f, "q", 2, NULL, &y, &err), -1);
  assert_non_null(strstr(err.msg, "dtype F32"));
  sc_st_close(&f);
}

static void test_rejects_truncated(void **state) {
  (void)state;
  float v[16];
  for (int i = 0; i < 16; i++) v[i] = (float)i;
  sc_st_entry e[] = {{"k", SC_ST_F32, 2, {4, 2}, v}, {"v", SC_ST_F32, 1, {8}, v + 8}};
  const char *p = tmp_path("full.safetensors");
  sc_err err = {{0}};
  if (sc_st_write(p, e, 2, NULL, 0, &err)) fail_msg("%s", err.msg);
  char *buf;
  size_t len;
  if (sc_read_file(p, &buf, &len, &err)) fail_msg("%s", err.msg);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | (unsigned char)buf[i];
  size_t cuts[] = {0, 5, 8, 8 + (size_t)hl / 2, 8 + (size_t)hl, len - 1};
  for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
    const char *tp = tmp_path("cut.safetensors");
    FILE *fp = fopen(tp, "wb");
    if (cuts[c]) assert_int_equal(fwrite(buf, 1, cuts[c], fp), cuts[c]);
    fclose(fp);
    const char *needles[] = {"truncated", "cut.safetensors", NULL};
    expect_open_error(tp, needles);
  }
  /* Cut inside the data names the tensor whose bytes are missing. */
  {
    const char *tp = tmp_path("cut.safetensors");
    FILE *fp = fopen(tp, "wb");
    assert_int_equal(fwrite(buf, 1, len - 4, fp), len - 4);
    fclose(fp);
    const char *needles[] = {"truncated", "'v'", NULL};
    expect_open_error(tp, needles);
  }
  free(buf);
  const char *needles[] = {"cannot open", "nope.safetensors", NULL};
  expect_open_error(tmp_path("nope.safetensors"), needles);
}

static void test_rejects_bad_headers(void **state) {
  (void)state;
  static const unsigned char data[64];
  struct {
    const char *header;
    size_t dlen;
    const char *needles[3];
  } cases[] = {
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, {"'a'", "shape needs 3 x 4", NULL}},
      {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, {"'a'", "unsupported dtype 'Q4'", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
       12,
       {"'b'", "overlap", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, {"'a'", "hole", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, {"4 bytes after", NULL, NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, {"'a'", "shape[0]", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, {"'a'", "shape[0]", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, {"'a'", "data_offsets", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, {"'a'", "data_offsets", NULL}},
      {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, {"'a'", "dtype", NULL}},
      {"{\"a\":[1,2]}", 0, {"'a'", "not an object", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
       8,
       {"'a'", "twice", NULL}},
      {"{\"__metadata__\":{\"k\":1}}", 0, {"__metadata__", "not a string", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",", 0, {"not a valid JSON", NULL, NULL}},
      {"[1]", 0, {"does not start with '{'", NULL, NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, {"9 dimensions", NULL}},
      /* The header is exactly one object (space padding only), and names are exact strings. */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  x", 8, {"after the JSON object", NULL}},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}{}", 8, {"after the JSON object", NULL}},
      {"{\"q\\u0000x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, {"NUL", NULL}},
  };
  const char *p = tmp_path("bad.safetensors");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_raw(p, cases[i].header, data, cases[i].dlen);
    const char *needles[4] = {"bad.safetensors", cases[i].needles[0], cases[i].needles[1], cases[i].needles[2]};
    expect_open_error(p, needles);
  }
  /* Header length claiming more than 100 MB. */
  FILE *fp = fopen(p, "wb");
  unsigned char l[16] = {0, 0, 0, 0, 1, 0, 0, 0, '{', '}'};
  assert_int_equal(fwrite(l, 1, 16, fp), 16);
  fclose(fp);
  const char *needles[] = {"100 MB", NULL};
  expect_open_error(p, needles);
  /* An empty header with no tensors is valid, with space padding too; an escaped backslash before u0000 is an
   * ordinary name. */
  write_raw(p, "{}      ", NULL, 0);
  sc_st_file f;
  sc_err err = {{0}};
  if (sc_st_open(&f, p, &err)) fail_msg("%s", err.msg);
  assert_int_equal(f.n, 0);
  sc_st_close(&f);
  static const float two[2];
  write_raw(p, "{\"q\\\\u0000x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", two, 8);
  if (sc_st_open(&f, p, &err)) fail_msg("%s", err.msg);
  assert_string_equal(f.tensors[0].name, "q\\u0000x");
  sc_st_close(&f);
}

/* Tens of thousands of tensors: read in full, and a duplicate among them is found (the check is not
 * quadratic; a fuzzed 20,000-tensor header used to take 8 s). */
static void test_many_tensors(void **state) {
  (void)state;
  enum { N = 30000 };
  const size_t cap = (size_t)N * 80 + 16;
  char *h = th_calloc(cap, 1);
  size_t off = (size_t)snprintf(h, cap, "{");
  for (int i = 0; i < N; i++)
    off += (size_t)snprintf(h + off, cap - off, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                            i ? "," : "", i, 4 * i, 4 * i + 4);
  snprintf(h + off, cap - off, "}");
  float *data = th_falloc(N);
  const char *p = tmp_path("many.safetensors");
  write_raw(p, h, data, (size_t)N * 4);
  sc_st_file f;
  sc_err err = {{0}};
  if (sc_st_open(&f, p, &err)) fail_msg("%s", err.msg);
  assert_int_equal(f.n, N);
  sc_st_close(&f);
  /* Rename the last tensor to the name of the first third's one: a duplicate. */
  char *last = strstr(h, "\"t29999\"");
  assert_non_null(last);
  memcpy(last, "\"t10000\"", 8);
  write_raw(p, h, data, (size_t)N * 4);
  const char *needles[] = {"'t10000'", "twice", NULL};
  expect_open_error(p, needles);
  free(h);
  free(data);
}

static void test_writer_rejects_bad_entries(void **state) {
  (void)state;
  float v[2] = {0};
  sc_err err = {{0}};
  sc_st_entry dup[] = {{"a", SC_ST_F32, 1, {2}, v}, {"a", SC_ST_F32, 1, {2}, v}};
  assert_int_equal(sc_st_write(tmp_path("w.safetensors"), dup, 2, NULL, 0, &err), -1);
  assert_non_null(strstr(err.msg, "duplicate"));
  sc_st_entry neg[] = {{"a", SC_ST_F32, 1, {-2}, v}};
  assert_int_equal(sc_st_write(tmp_path("w.safetensors"), neg, 1, NULL, 0, &err), -1);
  assert_non_null(strstr(err.msg, "negative"));
  sc_st_entry ok[] = {{"a", SC_ST_F32, 1, {2}, v}};
  assert_int_equal(sc_st_write("/nonexistent-dir/x.safetensors", ok, 1, NULL, 0, &err), -1);
  assert_non_null(strstr(err.msg, "/nonexistent-dir/x.safetensors"));
}

int main(void) {
  th_tmpdir("st", dir, sizeof dir);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_handmade_file), cmocka_unit_test(test_roundtrip_all_dtypes),
      cmocka_unit_test(test_getter_errors),       cmocka_unit_test(test_rejects_truncated),
      cmocka_unit_test(test_rejects_bad_headers), cmocka_unit_test(test_writer_rejects_bad_entries),
      cmocka_unit_test(test_many_tensors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
