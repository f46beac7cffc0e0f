#include "model/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/names.h"

const char *sc_arch_name(sc_arch a) {
  return a == SC_ARCH_XLSTM ? "xlstm" : "llama";
}

/* ---- field access with validation; every name asked for counts as known ---- */

#define MAX_KNOWN 96

typedef struct {
  const cJSON *obj;
  const char *origin;
  const char *known[MAX_KNOWN];
  int nknown;
  sc_err *err;
} pctx;

static const char *json_type(const cJSON *v) {
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "null";
}

/* The field, or NULL when absent or null (HF writes unset optional fields as null). */
static const cJSON *field(pctx *p, const char *name) {
  if (p->nknown < MAX_KNOWN) p->known[p->nknown++] = name;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->obj, name);
  return v && !cJSON_IsNull(v) ? v : NULL;
}

static int fail_field(pctx *p, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_field(pctx *p, const char *name, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sc_fail(p->err, "%s: field '%s' %s", p->origin, name, msg);
}

static int missing(pctx *p, const char *name, const char *what) {
  return sc_fail(p->err, "%s: missing required field '%s' (%s)", p->origin, name, what);
}

static int get_long(pctx *p, const char *name, const char *what, int required, long lo, long hi, long def, long *out) {
  const cJSON *v = field(p, name);
  if (!v) {
    if (required) return missing(p, name, what);
    *out = def;
    return 0;
  }
  if (!cJSON_IsNumber(v)) return fail_field(p, name, "must be an integer (%s), got %s", what, json_type(v));
  double x = v->valuedouble;
  if (x != floor(x) || fabs(x) > 9e15) return fail_field(p, name, "must be an integer (%s), got %g", what, x);
  if (x < (double)lo || x > (double)hi)
    return fail_field(p, name, "= %.0f is out of range [%ld, %ld] (%s)", x, lo, hi, what);
  *out = (long)x;
  return 0;
}

static int get_double(pctx *p, const char *name, const char *what, int required, double lo, double hi, double def,
                      double *out) {
  const cJSON *v = field(p, name);
  if (!v) {
    if (required) return missing(p, name, what);
    *out = def;
    return 0;
  }
  if (!cJSON_IsNumber(v)) return fail_field(p, name, "must be a number (%s), got %s", what, json_type(v));
  double x = v->valuedouble;
  if (!(x >= lo && x <= hi)) return fail_field(p, name, "= %g is out of range [%g, %g] (%s)", x, lo, hi, what);
  *out = x;
  return 0;
}

/* A boolean that scalecl supports only at one value (the paper's architecture). */
static int get_bool_fixed(pctx *p, const char *name, int supported, const char *why) {
  const cJSON *v = field(p, name);
  if (!v) return 0;
  if (!cJSON_IsBool(v)) return fail_field(p, name, "must be true or false, got %s", json_type(v));
  if (cJSON_IsTrue(v) != supported)
    return fail_field(p, name, "= %s is not supported: %s", cJSON_IsTrue(v) ? "true" : "false", why);
  return 0;
}

static int get_enum(pctx *p, const char *name, const char *const *allowed, int n, const char *def, char *out,
                    size_t outsz) {
  const cJSON *v = field(p, name);
  if (!v) {
    snprintf(out, outsz, "%s", def);
    return 0;
  }
  if (!cJSON_IsString(v)) return fail_field(p, name, "must be a string, got %s", json_type(v));
  char list[256] = "";
  for (int i = 0; i < n; i++) {
    if (!strcmp(v->valuestring, allowed[i])) {
      snprintf(out, outsz, "%s", allowed[i]);
      return 0;
    }
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", i ? ", " : "", allowed[i]);
  }
  return fail_field(p, name, "= '%s' is not supported; use one of %s", v->valuestring, list);
}

static int get_string(pctx *p, const char *name, char *out, size_t outsz) {
  const cJSON *v = field(p, name);
  out[0] = '\0';
  if (!v) return 0;
  if (!cJSON_IsString(v)) return fail_field(p, name, "must be a string, got %s", json_type(v));
  if (strlen(v->valuestring) >= outsz) return fail_field(p, name, "is longer than %zu characters", outsz - 1);
  snprintf(out, outsz, "%s", v->valuestring);
  return 0;
}

/* Known fields that do not change the model scalecl builds (kernel choices, dtypes, HF bookkeeping):
 * type-checked, otherwise ignored. kind: 's' string, 'b' boolean, 'n' number, 'a' anything. */
static int accept(pctx *p, const char *name, char kind) {
  const cJSON *v = field(p, name);
  if (!v || kind == 'a') return 0;
  if (kind == 's' && !cJSON_IsString(v)) return fail_field(p, name, "must be a string, got %s", json_type(v));
  if (kind == 'b' && !cJSON_IsBool(v)) return fail_field(p, name, "must be true or false, got %s", json_type(v));
  if (kind == 'n' && !cJSON_IsNumber(v)) return fail_field(p, name, "must be a number, got %s", json_type(v));
  return 0;
}

static int accept_list(pctx *p, const char *const *names, int n, char kind) {
  for (int i = 0; i < n; i++)
    if (accept(p, names[i], kind)) return -1;
  return 0;
}
#define ACCEPT(p, names, kind) accept_list(p, names, (int)(sizeof names / sizeof names[0]), kind)

static int get_token(pctx *p, const char *name, long vocab, long *out) {
  return get_long(p, name, "a token id below vocab_size", 0, 0, vocab - 1, -1, out);
}

/* One of two alias names (HF xLSTMConfig accepts both); they must agree when both are present. */
static int get_alias(pctx *p, const char *a, const char *b, const char *what, long lo, long hi, long *out) {
  long va = 0, vb = 0;
  if (get_long(p, a, what, 0, lo, hi, 0, &va) || get_long(p, b, what, 0, lo, hi, 0, &vb)) return -1;
  if (!va && !vb)
    return sc_fail(p->err, "%s: missing required field '%s' or its alias '%s' (%s)", p->origin, a, b, what);
  if (va && vb && va != vb) return fail_field(p, b, "= %ld disagrees with %s = %ld (they are aliases)", vb, a, va);
  *out = va ? va : vb;
  return 0;
}

/* d * factor must be a whole number: xlstm_large takes int() of it, which would silently truncate. */
static int dim_from_factor(pctx *p, const char *fname, long d, double f, long *out) {
  double x = (double)d * f;
  if (fabs(x - nearbyint(x)) > 1e-9 * fmax(1.0, x) || nearbyint(x) < 1)
    return fail_field(p, fname, "= %g gives embedding_dim %ld x %g = %g, which is not a positive whole number", f, d, f,
                      x);
  *out = (long)nearbyint(x);
  return 0;
}

static int divides(pctx *p, const char *heads_field, long heads, long width, const char *width_desc) {
  if (width % heads) return fail_field(p, heads_field, "= %ld must divide %s = %ld", heads, width_desc, width);
  return 0;
}

static const char *const TOKENIZERS[] = {"bytes", "gpt-neox-20b"};

static int parse_common(pctx *p, sc_model_config *c) {
  if (get_string(p, "scalecl_description", c->description, sizeof c->description)) return -1;
  if (get_enum(p, "scalecl_tokenizer", TOKENIZERS, 2, "", c->tokenizer, sizeof c->tokenizer)) return -1;
  if (get_long(p, "vocab_size", "number of token ids", 1, 1, 1L << 24, 0, &c->vocab_size)) return -1;
  if (get_token(p, "bos_token_id", c->vocab_size, &c->bos_token_id) ||
      get_token(p, "eos_token_id", c->vocab_size, &c->eos_token_id) ||
      get_token(p, "pad_token_id", c->vocab_size, &c->pad_token_id))
    return -1;
  if (!strcmp(c->tokenizer, "bytes") && c->vocab_size < 259)
    return fail_field(p, "vocab_size", "= %ld is too small for the byte tokenizer (259 ids: 256 bytes, EOS, BOS, PAD)",
                      c->vocab_size);
  if (get_bool_fixed(p, "tie_word_embeddings", 0, "the paper's models have an untied LM head")) return -1;
  static const char *const HF_STRINGS[] = {"_name_or_path", "torch_dtype", "transformers_version"};
  return ACCEPT(p, HF_STRINGS, 's') || accept(p, "use_cache", 'b') || accept(p, "architectures", 'a');
}

static int parse_xlstm(pctx *p, sc_model_config *c) {
  if (get_alias(p, "embedding_dim", "hidden_size", "model width", 1, 1L << 17, &c->d_model) ||
      get_alias(p, "num_blocks", "num_hidden_layers", "number of blocks", 1, 4096, &c->n_layers) ||
      get_long(p, "num_heads", "number of mLSTM heads", 1, 1, 1L << 16, 0, &c->n_heads))
    return -1;
  if (get_double(p, "qk_dim_factor", "query/key width over embedding_dim", 0, 1e-6, 16, 0.5, &c->qk_dim_factor) ||
      get_double(p, "v_dim_factor", "value width over embedding_dim", 0, 1e-6, 16, 1.0, &c->v_dim_factor) ||
      dim_from_factor(p, "qk_dim_factor", c->d_model, c->qk_dim_factor, &c->qk_dim) ||
      dim_from_factor(p, "v_dim_factor", c->d_model, c->v_dim_factor, &c->v_dim) ||
      divides(p, "num_heads", c->n_heads, c->qk_dim, "qk_dim = embedding_dim x qk_dim_factor") ||
      divides(p, "num_heads", c->n_heads, c->v_dim, "v_dim = embedding_dim x v_dim_factor"))
    return -1;
  c->d_qk = c->qk_dim / c->n_heads;
  c->d_v = c->v_dim / c->n_heads;
  if (get_double(p, "ffn_proj_factor", "FFN width over embedding_dim", 0, 1e-6, 64, 2.667, &c->ffn_proj_factor) ||
      get_long(p, "ffn_round_up_to_multiple_of", "FFN width rounding", 0, 1, 1L << 16, 64,
               &c->ffn_round_up_to_multiple_of) ||
      get_long(p, "chunk_size", "mLSTM chunk length", 0, 1, 1L << 16, 64, &c->chunk_size) ||
      get_double(p, "gate_soft_cap", "cap of the gate pre-activations", 0, 1e-6, 1e6, 15.0, &c->gate_soft_cap) ||
      get_double(p, "output_logit_soft_cap", "cap of the output logits", 0, 1e-6, 1e6, 30.0,
                 &c->output_logit_soft_cap) ||
      get_double(p, "norm_eps", "RMSNorm and head-norm epsilon", 0, 1e-30, 0.1, 1e-6, &c->norm_eps) ||
      get_double(p, "eps", "mLSTM normalizer epsilon", 0, 1e-30, 0.1, 1e-6, &c->cell_eps))
    return -1;
  /* The training code's 64*ceil(d*pf/64), on the float product; see README for the xlstm_large difference. A
   * product a rounding error above a multiple counts as that multiple, so the ffn_proj_factor = d_ff/d that a
   * checkpoint writes reads back as d_ff. */
  const double m = (double)c->ffn_round_up_to_multiple_of, q = (double)c->d_model * c->ffn_proj_factor / m;
  c->d_ff = (long)(ceil(q - 1e-9 * q) * m);
  static const char *const MODES[] = {"single", "fused"};
  char wm[16];
  if (get_enum(p, "weight_mode", MODES, 2, "single", wm, sizeof wm)) return -1;
  c->weight_fused = !strcmp(wm, "fused");
  if (get_bool_fixed(p, "use_bias", 0, "the paper's layers have no biases besides the gate biases") ||
      get_bool_fixed(p, "add_out_norm", 1, "the paper's models end with an RMSNorm before the LM head") ||
      get_bool_fixed(p, "add_qk_norm", 0, "the paper's mLSTM has no q/k norm") ||
      get_bool_fixed(p, "add_post_norm", 0, "the paper's blocks are pre-norm only"))
    return -1;
  static const char *const STRINGS[] = {
      "chunkwise_kernel",      "sequence_kernel",       "step_kernel",          "mode",
      "autocast_kernel_dtype", "inference_state_dtype", "forward_backend_name", "step_backend_name"};
  static const char *const BOOLS[] = {"norm_reduction_force_float32", "return_last_states", "force_bos_token_insert",
                                      "add_embedding_dropout", "add_forward_backend_padding"};
  static const char *const NUMBERS[] = {"max_inference_chunksize", "igate_bias_init_range", "cell_norm_eps"};
  return ACCEPT(p, STRINGS, 's') || ACCEPT(p, BOOLS, 'b') || ACCEPT(p, NUMBERS, 'n');
}

/* rope_theta, or HF 5's nested form "rope_parameters": {"rope_theta": ..., "rope_type": "default"}; both must
 * agree when both are present. */
static int get_rope_theta(pctx *p, double *theta) {
  static const char *const what = "RoPE base (the paper uses 500000)";
  const cJSON *rp = field(p, "rope_parameters");
  if (!rp) return get_double(p, "rope_theta", what, 1, 1e-6, 1e12, 0, theta);
  if (!cJSON_IsObject(rp)) return fail_field(p, "rope_parameters", "must be an object, got %s", json_type(rp));
  char origin[sizeof((sc_model_config *)0)->origin + 32];
  snprintf(origin, sizeof origin, "%s: rope_parameters", p->origin);
  pctx sub = {.obj = rp, .origin = origin, .err = p->err};
  static const char *const TYPES[] = {"default"};
  char type[16];
  double top;
  if (get_enum(&sub, "rope_type", TYPES, 1, "default", type, sizeof type) ||
      get_double(&sub, "rope_theta", what, 1, 1e-6, 1e12, 0, theta) ||
      get_double(p, "rope_theta", what, 0, 1e-6, 1e12, *theta, &top))
    return -1;
  if (top != *theta)
    return fail_field(p, "rope_theta", "= %g disagrees with rope_parameters.rope_theta = %g", top, *theta);
  return 0;
}

static int parse_llama(pctx *p, sc_model_config *c) {
  if (get_long(p, "hidden_size", "model width", 1, 1, 1L << 17, 0, &c->d_model) ||
      get_long(p, "intermediate_size", "SwiGLU FFN width", 1, 1, 1L << 20, 0, &c->d_ff) ||
      get_long(p, "num_hidden_layers", "number of blocks", 1, 1, 4096, 0, &c->n_layers) ||
      get_long(p, "num_attention_heads", "number of attention heads", 1, 1, 1L << 16, 0, &c->n_heads))
    return -1;
  long kv, hd;
  if (get_long(p, "num_key_value_heads", "key/value heads", 0, 1, 1L << 16, c->n_heads, &kv)) return -1;
  if (kv != c->n_heads)
    return fail_field(p, "num_key_value_heads",
                      "= %ld differs from num_attention_heads = %ld: grouped-query attention is not supported (the "
                      "paper's baseline is full multi-head attention)",
                      kv, c->n_heads);
  if (get_long(p, "head_dim", "attention head width", 0, 1, 1L << 16, 0, &hd)) return -1;
  if (hd) {
    if (hd * c->n_heads != c->d_model)
      return fail_field(p, "head_dim", "= %ld times num_attention_heads = %ld must equal hidden_size = %ld", hd,
                        c->n_heads, c->d_model);
  } else {
    if (divides(p, "num_attention_heads", c->n_heads, c->d_model, "hidden_size")) return -1;
    hd = c->d_model / c->n_heads;
  }
  c->d_qk = c->d_v = hd;
  c->qk_dim = c->v_dim = c->d_model;
  if (get_rope_theta(p, &c->rope_theta) ||
      get_double(p, "rms_norm_eps", "RMSNorm epsilon", 0, 1e-30, 0.1, 1e-6, &c->norm_eps) ||
      get_long(p, "max_position_embeddings", "longest context", 0, 1, 1L << 24, 0, &c->max_position_embeddings))
    return -1;
  static const char *const ACTS[] = {"silu"};
  char act[8];
  long tp;
  double drop;
  if (get_enum(p, "hidden_act", ACTS, 1, "silu", act, sizeof act) ||
      get_bool_fixed(p, "attention_bias", 0, "the paper's baseline has no biases") ||
      get_bool_fixed(p, "mlp_bias", 0, "the paper's baseline has no biases") ||
      get_long(p, "pretraining_tp", "tensor-parallel slicing (1 = none)", 0, 1, 1, 1, &tp) ||
      get_double(p, "attention_dropout", "dropout (the paper uses none)", 0, 0, 0, 0, &drop))
    return -1;
  if (field(p, "rope_scaling"))
    return fail_field(p, "rope_scaling", "is not supported: use null (the paper's RoPE is unscaled)");
  return accept(p, "initializer_range", 'n');
}

/* Unknown fields become warnings (with the nearest known name; the first MAX_NAMED, then a count, so a
 * hostile file with thousands of fields stays fast); repeated fields are errors. */
static int check_unknown(pctx *p, sc_model_config *c) {
  enum { MAX_NAMED = 16 };
  c->n_warnings = 0;
  c->warnings[0] = '\0';
  const int n = cJSON_GetArraySize(p->obj);
  const char **names = sc_malloc((size_t)(n ? n : 1) * sizeof *names, "config field names", p->err);
  if (!names) return -1;
  int i = 0;
  for (const cJSON *it = p->obj->child; it; it = it->next) names[i++] = it->string;
  const int dup = sc_find_duplicate(names, n, "config field names", p->err);
  free(names);
  if (dup == -2) return -1;
  if (dup >= 0) return fail_field(p, cJSON_GetArrayItem(p->obj, dup)->string, "appears more than once");
  int unnamed = 0;
  for (const cJSON *it = p->obj->child; it; it = it->next) {
    int known = 0;
    for (int k = 0; k < p->nknown && !known; k++) known = !strcmp(p->known[k], it->string);
    if (known) continue;
    if (c->n_warnings >= MAX_NAMED) {
      unnamed++;
      continue;
    }
    int near = sc_nearest(it->string, p->known, p->nknown);
    char line[256];
    if (near >= 0)
      snprintf(line, sizeof line, "%s: unknown field '%s' ignored (did you mean '%s'?)\n", p->origin, it->string,
               p->known[near]);
    else
      snprintf(line, sizeof line, "%s: unknown field '%s' ignored\n", p->origin, it->string);
    size_t used = strlen(c->warnings);
    snprintf(c->warnings + used, sizeof c->warnings - used, "%s", line);
    c->n_warnings++;
  }
  if (unnamed) {
    size_t used = strlen(c->warnings);
    snprintf(c->warnings + used, sizeof c->warnings - used, "%s: %d more unknown field%s ignored\n", p->origin, unnamed,
             unnamed == 1 ? "" : "s");
    c->n_warnings++;
  }
  return 0;
}

int sc_model_config_parse_object(const cJSON *obj, const char *origin, sc_model_config *c, sc_err *err) {
  memset(c, 0, sizeof *c);
  snprintf(c->origin, sizeof c->origin, "%s", origin);
  if (!cJSON_IsObject(obj)) return sc_fail(err, "%s: a model config must be a JSON object", origin);
  pctx p = {.obj = obj, .origin = c->origin, .err = err};
  static const char *const TYPES[] = {"xlstm", "llama"};
  const cJSON *mt = field(&p, "model_type");
  if (!mt) return missing(&p, "model_type", "\"xlstm\" or \"llama\"");
  char type[16];
  if (get_enum(&p, "model_type", TYPES, 2, "", type, sizeof type)) return -1;
  c->arch = !strcmp(type, "xlstm") ? SC_ARCH_XLSTM : SC_ARCH_LLAMA;
  if (parse_common(&p, c)) return -1;
  if ((c->arch == SC_ARCH_XLSTM ? parse_xlstm : parse_llama)(&p, c)) return -1;
  return check_unknown(&p, c);
}

int sc_model_config_parse(const char *json, const char *origin, sc_model_config *cfg, sc_err *err) {
  cJSON *obj = cJSON_Parse(json);
  if (!obj) {
    const char *at = cJSON_GetErrorPtr();
    long off = at && at >= json ? (long)(at - json) : -1;
    int line = 1;
    for (long i = 0; i < off; i++) line += json[i] == '\n';
    memset(cfg, 0, sizeof *cfg);
    return sc_fail(err, "%s: invalid JSON near line %d (byte %ld)", origin, line, off);
  }
  int rc = sc_model_config_parse_object(obj, origin, cfg, err);
  cJSON_Delete(obj);
  return rc;
}

static void set_name_from_path(sc_model_config *c, const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base);
  if (n > 5 && !strcmp(base + n - 5, ".json")) n -= 5;
  snprintf(c->name, sizeof c->name, "%.*s", (int)(n < sizeof c->name - 1 ? n : sizeof c->name - 1), base);
}

int sc_model_config_load(const char *path, sc_model_config *cfg, sc_err *err) {
  char *text;
  size_t len;
  if (sc_read_file(path, &text, &len, err)) return sc_wrap(err, "model config: ");
  int rc = sc_model_config_parse(text, path, cfg, err);
  free(text);
  if (rc == 0) set_name_from_path(cfg, path);
  return rc;
}

/* ---- writing ---- */

static void add_token(cJSON *o, const char *name, long id) {
  if (id >= 0)
    cJSON_AddNumberToObject(o, name, (double)id);
  else
    cJSON_AddNullToObject(o, name);
}

/* A float field written with a decimal point or exponent: HF's strict config classes reject an integer (1) where
 * they declare a float (v_dim_factor: float). The shortest text that reads back as the same double. */
static void add_float(cJSON *o, const char *name, double v) {
  char text[40];
  snprintf(text, sizeof text, "%.15g", v);
  if (strtod(text, NULL) != v) snprintf(text, sizeof text, "%.17g", v);
  if (!strpbrk(text, ".eEn")) snprintf(text + strlen(text), sizeof text - strlen(text), ".0");
  cJSON_AddRawToObject(o, name, text);
}

char *sc_model_config_to_json(const sc_model_config *c, sc_err *err) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return sc_fail(err, "out of host memory writing a model config"), NULL;
  cJSON_AddStringToObject(o, "model_type", sc_arch_name(c->arch));
  if (c->description[0]) cJSON_AddStringToObject(o, "scalecl_description", c->description);
  if (c->tokenizer[0]) cJSON_AddStringToObject(o, "scalecl_tokenizer", c->tokenizer);
  cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab_size);
  const char *const arch_class[] = {c->arch == SC_ARCH_XLSTM ? "xLSTMForCausalLM" : "LlamaForCausalLM"};
  cJSON_AddItemToObject(o, "architectures", cJSON_CreateStringArray(arch_class, 1));
  if (c->arch == SC_ARCH_XLSTM) {
    /* Both names: with only the xLSTM ones HF builds its default width and depth (hf-checkpoints.md). */
    cJSON_AddNumberToObject(o, "embedding_dim", (double)c->d_model);
    cJSON_AddNumberToObject(o, "hidden_size", (double)c->d_model);
    cJSON_AddNumberToObject(o, "num_blocks", (double)c->n_layers);
    cJSON_AddNumberToObject(o, "num_hidden_layers", (double)c->n_layers);
    cJSON_AddNumberToObject(o, "num_heads", (double)c->n_heads);
    add_float(o, "qk_dim_factor", c->qk_dim_factor);
    add_float(o, "v_dim_factor", c->v_dim_factor);
    add_float(o, "ffn_proj_factor", c->ffn_proj_factor);
    cJSON_AddNumberToObject(o, "ffn_round_up_to_multiple_of", (double)c->ffn_round_up_to_multiple_of);
    cJSON_AddNumberToObject(o, "chunk_size", (double)c->chunk_size);
    add_float(o, "gate_soft_cap", c->gate_soft_cap);
    add_float(o, "output_logit_soft_cap", c->output_logit_soft_cap);
    add_float(o, "norm_eps", c->norm_eps);
    add_float(o, "eps", c->cell_eps);
    cJSON_AddFalseToObject(o, "use_bias");
    cJSON_AddTrueToObject(o, "add_out_norm");
    cJSON_AddStringToObject(o, "weight_mode", c->weight_fused ? "fused" : "single");
    /* HF's xLSTM runs its kernels in bfloat16 unless told otherwise; scalecl's parameters are float32. */
    cJSON_AddStringToObject(o, "autocast_kernel_dtype", "float32");
    cJSON_AddStringToObject(o, "inference_state_dtype", "float32");
  } else {
    cJSON_AddNumberToObject(o, "hidden_size", (double)c->d_model);
    cJSON_AddNumberToObject(o, "intermediate_size", (double)c->d_ff);
    cJSON_AddNumberToObject(o, "num_hidden_layers", (double)c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", (double)c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", (double)c->n_heads);
    cJSON_AddNumberToObject(o, "head_dim", (double)c->d_qk);
    add_float(o, "rope_theta", c->rope_theta);
    add_float(o, "rms_norm_eps", c->norm_eps);
    if (c->max_position_embeddings)
      cJSON_AddNumberToObject(o, "max_position_embeddings", (double)c->max_position_embeddings);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddFalseToObject(o, "attention_bias");
    cJSON_AddFalseToObject(o, "mlp_bias");
  }
  cJSON_AddFalseToObject(o, "tie_word_embeddings");
  add_token(o, "bos_token_id", c->bos_token_id);
  add_token(o, "eos_token_id", c->eos_token_id);
  add_token(o, "pad_token_id", c->pad_token_id);
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  if (!s) return sc_fail(err, "out of host memory writing a model config"), NULL;
  /* cJSON allocates with malloc, so the caller's free() matches. */
  return s;
}
