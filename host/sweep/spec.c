#include "sweep/spec.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "data/prepare.h"
#include "model/flops.h"
#include "model/presets.h"
#include "train/schedule.h"

const char *sc_sweep_kind_name(sc_sweep_kind k) {
  return k == SC_SWEEP_ISOFLOP ? "isoflop" : "tokenparam";
}

/* ---- reading ---- */

typedef struct {
  const char *path;
  sc_err *err;
} ctx_t;

static const cJSON *field(const cJSON *o, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(o, name);
}

static int num(ctx_t *c, const cJSON *o, const char *where, const char *name, double lo, double hi, int required,
               double *out) {
  const cJSON *v = field(o, name);
  if (!v) return required ? sc_fail(c->err, "%s: %s needs \"%s\"", c->path, where, name) : 0;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
    return sc_fail(c->err, "%s: %s \"%s\" must be a number in [%g, %g]", c->path, where, name, lo, hi);
  *out = v->valuedouble;
  return 0;
}

static int whole(ctx_t *c, const cJSON *o, const char *where, const char *name, double lo, double hi, int required,
                 long *out) {
  double d = (double)*out;
  if (num(c, o, where, name, lo, hi, required, &d)) return -1;
  if (d != floor(d)) return sc_fail(c->err, "%s: %s \"%s\" must be a whole number", c->path, where, name);
  *out = (long)d;
  return 0;
}

static int numbers(ctx_t *c, const cJSON *o, const char *name, double lo, double *v, int *n) {
  const cJSON *a = field(o, name);
  *n = 0;
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > SC_SWEEP_MAX_LIST)
    return sc_fail(c->err, "%s: \"%s\" must be a list of 1 to %d numbers", c->path, name, SC_SWEEP_MAX_LIST);
  for (const cJSON *x = a->child; x; x = x->next) {
    if (!cJSON_IsNumber(x) || !(x->valuedouble >= lo) || !isfinite(x->valuedouble))
      return sc_fail(c->err, "%s: \"%s\" entry %d must be a number >= %g", c->path, name, *n + 1, lo);
    v[(*n)++] = x->valuedouble;
  }
  return 0;
}

/* A number, or a table [{bound: X, name: Y}, ..., {name: Y}] whose rows all bound the same quantity, one of
 * bound_names (NULL-terminated): *by says which. */
static int rules(ctx_t *c, const cJSON *o, const char *where, const char *name, const char *const *bound_names,
                 sc_sweep_rule *r, int *n, int *by) {
  const cJSON *v = field(o, name);
  *n = 0, *by = 0;
  if (cJSON_IsNumber(v)) {
    if (!(v->valuedouble > 0)) return sc_fail(c->err, "%s: %s \"%s\" must be positive", c->path, where, name);
    r[(*n)++] = (sc_sweep_rule){INFINITY, v->valuedouble};
    return 0;
  }
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > SC_SWEEP_MAX_RULES)
    return sc_fail(c->err,
                   "%s: %s \"%s\" must be a number or a list of 1 to %d objects {\"%s\": X, \"%s\": Y} (the last "
                   "without \"%s\")",
                   c->path, where, name, SC_SWEEP_MAX_RULES, bound_names[0], name, bound_names[0]);
  int used = -1;
  for (const cJSON *x = v->child; x; x = x->next) {
    sc_sweep_rule rule = {INFINITY, 0};
    char w[160];
    snprintf(w, sizeof w, "%s \"%s\" row %d", where, name, *n + 1);
    if (!cJSON_IsObject(x)) return sc_fail(c->err, "%s: %s is not an object", c->path, w);
    for (int k = 0; bound_names[k]; k++) {
      if (!field(x, bound_names[k])) continue;
      if (used >= 0 && used != k)
        return sc_fail(c->err, "%s: %s bounds \"%s\" where earlier rows bound \"%s\"; use one of them", c->path, w,
                       bound_names[k], bound_names[used]);
      used = k;
      if (num(c, x, w, bound_names[k], 0, INFINITY, 1, &rule.bound)) return -1;
    }
    if (num(c, x, w, name, 0, 1e9, 1, &rule.value)) return -1;
    if (!(rule.value > 0)) return sc_fail(c->err, "%s: %s \"%s\" must be positive", c->path, w, name);
    r[(*n)++] = rule;
  }
  if (isfinite(r[*n - 1].bound))
    return sc_fail(c->err, "%s: %s \"%s\": the last row needs no \"%s\", so that every value has a rule", c->path,
                   where, name, bound_names[used]);
  *by = used < 0 ? 0 : used;
  return 0;
}

static double rule_value(const sc_sweep_rule *r, int n, double x) {
  for (int i = 0; i < n; i++)
    if (x <= r[i].bound) return r[i].value;
  return r[n - 1].value;
}

static int models(ctx_t *c, const cJSON *o, const char *where, char **names, int n_names, sc_sweep_arch *a) {
  const cJSON *m = field(o, "models");
  if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) < 1)
    return sc_fail(c->err, "%s: %s needs \"models\": a list of preset names or patterns", c->path, where);
  for (const cJSON *x = m->child; x; x = x->next) {
    if (!cJSON_IsString(x)) return sc_fail(c->err, "%s: %s \"models\" holds a non-string", c->path, where);
    int matched = 0;
    for (int i = 0; i < n_names; i++) {
      if (fnmatch(x->valuestring, names[i], 0)) continue;
      int dup = 0;
      for (int k = 0; k < a->n_models; k++) dup |= !strcmp(a->models[k], names[i]);
      matched = 1;
      if (dup) continue;
      if (a->n_models == SC_SWEEP_MAX_MODELS)
        return sc_fail(c->err, "%s: %s names more than %d models", c->path, where, SC_SWEEP_MAX_MODELS);
      snprintf(a->models[a->n_models++], sizeof a->models[0], "%s", names[i]);
    }
    if (!matched)
      return sc_fail(c->err, "%s: %s model \"%s\" matches no preset (see 'scalecl flops --table' or models/)", c->path,
                     where, x->valuestring);
  }
  return 0;
}

static int parse(ctx_t *c, const cJSON *root, sc_sweep_spec *s) {
  if (!cJSON_IsObject(root)) return sc_fail(c->err, "%s: not a JSON object", c->path);
  const cJSON *name = field(root, "name"), *kind = field(root, "kind"), *desc = field(root, "description");
  const cJSON *data = field(root, "data"), *sched = field(root, "schedule"), *archs = field(root, "archs");
  if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) >= sizeof s->name ||
      strspn(name->valuestring, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
          strlen(name->valuestring))
    return sc_fail(c->err, "%s: \"name\" must be a short name of letters, digits, '-', '_' and '.'", c->path);
  snprintf(s->name, sizeof s->name, "%s", name->valuestring);
  if (desc && cJSON_IsString(desc)) snprintf(s->description, sizeof s->description, "%s", desc->valuestring);
  if (!cJSON_IsString(kind) || (strcmp(kind->valuestring, "isoflop") && strcmp(kind->valuestring, "tokenparam")))
    return sc_fail(c->err, "%s: \"kind\" must be \"isoflop\" or \"tokenparam\"", c->path);
  s->kind = strcmp(kind->valuestring, "isoflop") ? SC_SWEEP_TOKENPARAM : SC_SWEEP_ISOFLOP;
  if (numbers(c, root, s->kind == SC_SWEEP_ISOFLOP ? "budgets" : "ratios", 1e-300, s->points, &s->n_points)) return -1;
  if (!cJSON_IsString(data) || !*data->valuestring)
    return sc_fail(c->err, "%s: \"data\" must be \"default\" or a shard directory or glob", c->path);
  snprintf(s->data, sizeof s->data, "%s", data->valuestring);
  s->schedule = SC_SCHED_COSINE;
  if (sched) {
    s->schedule = -1;
    for (int k = 0; cJSON_IsString(sched) && k < SC_SCHED_COUNT; k++)
      if (!strcmp(sched->valuestring, sc_sched_names[k])) s->schedule = k;
    if (s->schedule < 0) return sc_fail(c->err, "%s: \"schedule\" must be cosine, constant or wsd", c->path);
  }
  double seeds[SC_SWEEP_MAX_LIST];
  s->budget_tolerance = 0.1, s->ctx = 0, s->min_steps = 1, s->eval_batches = 8;
  s->warmup = 0.1, s->warmup_fraction = 1;
  if (field(root, "seeds")) {
    if (numbers(c, root, "seeds", 0, seeds, &s->n_seeds)) return -1;
    for (int i = 0; i < s->n_seeds; i++) {
      /* the range of train's --seed */
      if (seeds[i] > 2147483647.0 || seeds[i] != floor(seeds[i]))
        return sc_fail(c->err, "%s: \"seeds\" entry %d must be a whole number from 0 to 2147483647", c->path, i + 1);
      s->seeds[i] = (long)seeds[i];
    }
  } else {
    s->n_seeds = 1, s->seeds[0] = 1;
  }
  if (field(root, "warmup_steps") && field(root, "warmup_fraction"))
    return sc_fail(c->err, "%s: give \"warmup_steps\" or \"warmup_fraction\", not both", c->path);
  if (field(root, "cooldown_steps") && field(root, "cooldown_fraction"))
    return sc_fail(c->err, "%s: give \"cooldown_steps\" or \"cooldown_fraction\", not both", c->path);
  if (field(root, "warmup_steps")) s->warmup_fraction = 0;
  if (field(root, "cooldown_fraction")) s->cooldown_fraction = 1;
  if (num(c, root, "the sweep", "budget_tolerance", 0, 1, 0, &s->budget_tolerance) ||
      whole(c, root, "the sweep", "ctx", 2, 1 << 20, 1, &s->ctx) ||
      num(c, root, "the sweep", s->warmup_fraction ? "warmup_fraction" : "warmup_steps", 0,
          s->warmup_fraction ? 1 : 1e12, 0, &s->warmup) ||
      num(c, root, "the sweep", s->cooldown_fraction ? "cooldown_fraction" : "cooldown_steps", 0,
          s->cooldown_fraction ? 1 : 1e12, 0, &s->cooldown) ||
      whole(c, root, "the sweep", "min_steps", 1, 1e12, 0, &s->min_steps) ||
      whole(c, root, "the sweep", "eval_every", 0, 1e12, 0, &s->eval_every) ||
      whole(c, root, "the sweep", "eval_batches", 0, 1e9, 0, &s->eval_batches) ||
      whole(c, root, "the sweep", "checkpoint_every", 0, 1e12, 0, &s->checkpoint_every) ||
      whole(c, root, "the sweep", "micro_batch", 0, 1 << 20, 0, &s->micro_batch))
    return -1;
  if (!cJSON_IsArray(archs) || cJSON_GetArraySize(archs) < 1 || cJSON_GetArraySize(archs) > SC_SWEEP_MAX_ARCHS)
    return sc_fail(c->err, "%s: \"archs\" must be a list of 1 to %d architectures", c->path, SC_SWEEP_MAX_ARCHS);
  char dir[4096], **names = NULL;
  int n_names = 0;
  if (sc_models_dir(dir, sizeof dir, c->err) || sc_preset_names(dir, &names, &n_names, c->err)) return -1;
  int rc = 0;
  for (const cJSON *a = archs->child; !rc && a; a = a->next) {
    sc_sweep_arch *x = &s->archs[s->n_archs];
    char where[64];
    snprintf(where, sizeof where, "archs[%d]", s->n_archs);
    const cJSON *an = field(a, "arch");
    if (!cJSON_IsObject(a) || !cJSON_IsString(an) ||
        (strcmp(an->valuestring, "xlstm") && strcmp(an->valuestring, "llama"))) {
      rc = sc_fail(c->err, "%s: %s needs \"arch\": \"xlstm\" or \"llama\"", c->path, where);
      break;
    }
    x->arch = strcmp(an->valuestring, "xlstm") ? SC_ARCH_LLAMA : SC_ARCH_XLSTM;
    static const char *const by_params[] = {"max_params", NULL}, *const by_either[] = {"max_budget", "max_params",
                                                                                       NULL};
    int lr_by;
    rc = models(c, a, where, names, n_names, x) || rules(c, a, where, "lr", by_params, x->lr, &x->n_lr, &lr_by) ||
         rules(c, a, where, "batch", by_either, x->batch, &x->n_batch, &x->batch_by_params);
    s->n_archs++;
  }
  sc_preset_names_free(names, n_names);
  return rc ? -1 : 0;
}

int sc_sweep_load(const char *path, sc_sweep_spec *s, sc_err *err) {
  memset(s, 0, sizeof *s);
  snprintf(s->path, sizeof s->path, "%s", path);
  char *text = NULL;
  size_t len;
  if (sc_read_file(path, &text, &len, err)) return sc_wrap(err, "sweep file: ");
  cJSON *root = cJSON_Parse(text);
  const char *bad = cJSON_GetErrorPtr();
  const long at = !root && bad && bad >= text && bad <= text + len ? (long)(bad - text) : -1;
  free(text);
  ctx_t c = {path, err};
  const int rc = root ? parse(&c, root, s) : sc_fail(err, "%s: not valid JSON (near byte %ld)", path, at);
  cJSON_Delete(root);
  return rc;
}

/* ---- expansion ---- */

static char *run_config(const sc_sweep_spec *s, const sc_sweep_run *r, const char *data) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "sweep", s->name);
  cJSON_AddStringToObject(j, "kind", sc_sweep_kind_name(s->kind));
  cJSON_AddStringToObject(j, "arch", sc_arch_name(r->arch));
  cJSON_AddStringToObject(j, "model", r->model);
  cJSON_AddNumberToObject(j, "params", (double)r->params);
  cJSON_AddNumberToObject(j, "budget", r->budget);
  cJSON_AddNumberToObject(j, "ratio", r->ratio);
  cJSON_AddNumberToObject(j, "batch", (double)r->batch);
  cJSON_AddNumberToObject(j, "micro_batch", (double)s->micro_batch);
  cJSON_AddNumberToObject(j, "ctx", (double)r->ctx);
  cJSON_AddNumberToObject(j, "steps", (double)r->steps);
  cJSON_AddNumberToObject(j, "tokens", r->tokens);
  cJSON_AddNumberToObject(j, "flops", r->flops);
  cJSON_AddNumberToObject(j, "lr", r->lr);
  cJSON_AddStringToObject(j, "schedule", sc_sched_names[s->schedule]);
  cJSON_AddNumberToObject(j, "warmup", (double)r->warmup);
  cJSON_AddNumberToObject(j, "cooldown", (double)r->cooldown);
  cJSON_AddNumberToObject(j, "seed", (double)r->seed);
  cJSON_AddStringToObject(j, "data", data);
  cJSON_AddNumberToObject(j, "eval_every", (double)s->eval_every);
  cJSON_AddNumberToObject(j, "eval_batches", (double)s->eval_batches);
  cJSON_AddNumberToObject(j, "checkpoint_every", (double)s->checkpoint_every);
  char *out = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return out;
}

static long steps_of(double v, int fraction, long steps) {
  return fraction ? (long)llround(v * (double)steps) : (long)v;
}

int sc_sweep_expand(const sc_sweep_spec *s, const char *data_override, sc_sweep_run **runs, int *n, int *left_out,
                    sc_err *err) {
  *runs = NULL, *n = 0, *left_out = 0;
  char data[4096];
  if (data_override)
    snprintf(data, sizeof data, "%s", data_override);
  else if (!strcmp(s->data, "default"))
    snprintf(data, sizeof data, "%s/gcide", sc_data_dir());
  else
    snprintf(data, sizeof data, "%s", s->data);
  int cap = 0;
  for (int a = 0; a < s->n_archs; a++) cap += s->archs[a].n_models * s->n_points * s->n_seeds;
  sc_sweep_run *out = calloc((size_t)(cap ? cap : 1), sizeof *out);
  if (!out) return sc_fail(err, "out of host memory expanding %s", s->path);
  const sc_flops_opts fo = sc_flops_paper_opts();
  int rc = 0;
  for (int p = 0; !rc && p < s->n_points; p++)
    for (int a = 0; !rc && a < s->n_archs; a++)
      for (int m = 0; !rc && m < s->archs[a].n_models; m++)
        for (int k = 0; !rc && k < s->n_seeds; k++) {
          const sc_sweep_arch *x = &s->archs[a];
          sc_sweep_run *r = &out[*n];
          memset(r, 0, sizeof *r);
          sc_flops fw;
          if (sc_model_config_resolve(x->models[m], &r->cfg, err) || sc_flops_forward(&r->cfg, s->ctx, &fo, &fw, err)) {
            rc = sc_wrap(err, "%s: model %s: ", s->path, x->models[m]);
            break;
          }
          if (r->cfg.arch != x->arch) {
            rc = sc_fail(err, "%s: model %s is %s, listed under arch %s", s->path, x->models[m],
                         sc_arch_name(r->cfg.arch), sc_arch_name(x->arch));
            break;
          }
          r->arch = x->arch;
          snprintf(r->model, sizeof r->model, "%s", x->models[m]);
          r->params = sc_model_params(&r->cfg);
          r->flops_per_token = sc_flops_train_per_token(&fw, s->ctx);
          r->ctx = s->ctx, r->seed = s->seeds[k];
          r->lr = rule_value(x->lr, x->n_lr, (double)r->params);
          const double step_tokens = (double)s->ctx;
          const int iso = s->kind == SC_SWEEP_ISOFLOP;
          if (iso)
            r->budget = s->points[p];
          else
            r->ratio = s->points[p];
          if (!iso && !x->batch_by_params && x->n_batch > 1) {
            rc = sc_fail(err, "%s: a token/param sweep's \"batch\" table must bound \"max_params\"", s->path);
            break;
          }
          const double batch =
              rule_value(x->batch, x->n_batch, iso && !x->batch_by_params ? r->budget : (double)r->params);
          /* train's limits; converting anything larger to long is undefined */
          if (!(batch >= 1 && batch <= 65536 && batch == floor(batch))) {
            rc = sc_fail(err, "%s: model %s: \"batch\" %g must be a whole number from 1 to 65536", s->path,
                         x->models[m], batch);
            break;
          }
          const double steps = iso ? round(r->budget / (batch * step_tokens * r->flops_per_token))
                                   : ceil(r->ratio * (double)r->params / (batch * step_tokens));
          if (!(steps <= 1e12)) {
            rc = sc_fail(err, "%s: model %s needs %.3g steps at %s %g; lower it", s->path, x->models[m], steps,
                         iso ? "budget" : "ratio", s->points[p]);
            break;
          }
          r->batch = (long)batch, r->steps = (long)steps;
          r->tokens = (double)r->steps * (double)r->batch * step_tokens;
          r->flops = r->tokens * r->flops_per_token;
          if (r->steps < s->min_steps || (iso && fabs(r->flops - r->budget) > s->budget_tolerance * r->budget)) {
            ++*left_out;
            continue;
          }
          r->warmup = steps_of(s->warmup, s->warmup_fraction, r->steps);
          r->cooldown = steps_of(s->cooldown, s->cooldown_fraction, r->steps);
          if (r->warmup + r->cooldown > r->steps) r->warmup = r->steps - r->cooldown < 0 ? 0 : r->steps - r->cooldown;
          if (r->cooldown > r->steps) r->cooldown = r->steps;
          if (!(r->config = run_config(s, r, data))) {
            rc = sc_fail(err, "out of host memory expanding %s", s->path);
            break;
          }
          snprintf(r->run_id, sizeof r->run_id, "%016" PRIx64, (uint64_t)XXH3_64bits(r->config, strlen(r->config)));
          ++*n;
        }
  if (rc) {
    sc_sweep_runs_free(out, *n);
    *n = 0;
    return -1;
  }
  *runs = out;
  return 0;
}

void sc_sweep_runs_free(sc_sweep_run *runs, int n) {
  for (int i = 0; i < n; i++) free(runs[i].config);
  free(runs);
}

int sc_sweep_run_options(const cJSON *config, const char *run_dir, sc_run_opts *o, sc_err *err) {
  static const char *const strs[] = {"model", "data", "schedule"};
  static const char *const nums[] = {"batch",           "micro_batch", "ctx",  "steps",      "lr",
                                     "warmup",          "cooldown",    "seed", "eval_every", "eval_batches",
                                     "checkpoint_every"};
  const char *s[3];
  double v[11];
  for (int i = 0; i < 3; i++) {
    const cJSON *x = field(config, strs[i]);
    if (!cJSON_IsString(x)) return sc_fail(err, "run config: \"%s\" is missing", strs[i]);
    s[i] = x->valuestring;
  }
  for (int i = 0; i < 11; i++) {
    const cJSON *x = field(config, nums[i]);
    if (!cJSON_IsNumber(x)) return sc_fail(err, "run config: \"%s\" is missing", nums[i]);
    v[i] = x->valuedouble;
    /* all but lr are counts; a damaged ledger must not reach an undefined conversion */
    if (i != 4 && !(v[i] >= 0 && v[i] <= 1e12 && v[i] == floor(v[i])))
      return sc_fail(err, "run config: \"%s\" is %g, not a count", nums[i], v[i]);
  }
  int sched = -1;
  for (int k = 0; k < SC_SCHED_COUNT; k++)
    if (!strcmp(s[2], sc_sched_names[k])) sched = k;
  if (sched < 0) return sc_fail(err, "run config: schedule \"%s\" is unknown", s[2]);
  *o = sc_run_defaults();
  o->model = s[0], o->data = s[1], o->out = run_dir, o->schedule = sched;
  o->batch = (long)v[0], o->micro_batch = (long)v[1], o->ctx = (long)v[2], o->steps = (long)v[3], o->lr = v[4];
  o->warmup = (long)v[5], o->cooldown = (long)v[6], o->seed = (long)v[7], o->eval_every = (long)v[8];
  o->eval_batches = (long)v[9], o->checkpoint_every = (long)v[10];
  o->checkpoint_minutes = 2, o->keep = 1;
  return 0;
}
