#include "runtime/variant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/settings.h"
#include "runtime/profile.h"

const char *sc_variant_name(sc_variant v) {
  return v == SC_VARIANT_GPU ? "gpu" : "cpu";
}

int sc_variant_parse(const char *s) {
  if (!s) return -1;
  if (!strcmp(s, "cpu")) return SC_VARIANT_CPU;
  if (!strcmp(s, "gpu")) return SC_VARIANT_GPU;
  return -1;
}

/* A defines string as parallel arrays of names and values. */
enum { MAX_TILES = 24 };
typedef struct {
  char name[MAX_TILES][32];
  char value[MAX_TILES][32];
  int n;
} tiles;

static int tiles_parse(const char *text, tiles *t, const char *who, sc_err *err) {
  t->n = 0;
  if (!text) return 0;
  const char *p = text;
  while (*p) {
    while (*p == ' ') p++;
    if (!*p) break;
    const char *eq = strchr(p, '='), *end = strchr(p, ' ');
    if (!end) end = p + strlen(p);
    if (!eq || eq > end || eq == p || eq + 1 == end || eq - p >= 32 || end - eq - 1 >= 32)
      return sc_fail(err, "%s: tile parameters '%s' are not NAME=VALUE words of under 32 characters", who, text);
    if (t->n == MAX_TILES) return sc_fail(err, "%s: more than %d tile parameters in '%s'", who, MAX_TILES, text);
    snprintf(t->name[t->n], 32, "%.*s", (int)(eq - p), p);
    snprintf(t->value[t->n], 32, "%.*s", (int)(end - eq - 1), eq + 1);
    t->n++;
    p = end;
  }
  return 0;
}

static int tiles_find(const tiles *t, const char *name) {
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->name[i], name)) return i;
  return -1;
}

static void tiles_names(const tiles *t, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < t->n && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", t->name[i]);
}

/* Replaces the value of an existing name; an unknown one is an error naming `who`. */
static int tiles_set(tiles *t, const char *name, const char *value, const char *who, sc_err *err) {
  int i = tiles_find(t, name);
  if (i < 0) {
    char names[512];
    tiles_names(t, names, sizeof names);
    return sc_fail(err, "%s: unknown tile parameter '%s' (this kernel family takes: %s)", who, name,
                   t->n ? names : "none");
  }
  snprintf(t->value[i], 32, "%s", value);
  return 0;
}

static int tiles_format(const tiles *t, char *buf, size_t cap, sc_err *err) {
  size_t used = 0;
  if (cap) buf[0] = '\0';
  for (int i = 0; i < t->n; i++) {
    int w = snprintf(buf + used, cap - used, "%s%s=%s", i ? " " : "", t->name[i], t->value[i]);
    if (w < 0 || (size_t)w >= cap - used) return sc_fail(err, "tile parameters do not fit in %zu characters", cap);
    used += (size_t)w;
  }
  return 0;
}

/* The profile's choice for family: "kernel_variant" as a string, or an object holding family. */
static int profile_variant(const cJSON *root, const char *path, const char *family, int *v, sc_err *err) {
  *v = -1;
  const cJSON *kv = cJSON_GetObjectItemCaseSensitive(root, "kernel_variant");
  if (!kv) return 0;
  if (cJSON_IsObject(kv)) kv = cJSON_GetObjectItemCaseSensitive(kv, family);
  if (!kv) return 0;
  if (!cJSON_IsString(kv) || (*v = sc_variant_parse(kv->valuestring)) < 0)
    return sc_fail(err, "profile %s: kernel_variant for %s must be \"cpu\" or \"gpu\"", path, family);
  return 0;
}

/* Sets the values of the profile's tiles.<key> in t; *found (may be NULL) says whether the profile has that key. */
static int profile_tiles(const cJSON *root, const char *path, const char *key, tiles *t, int *found, sc_err *err) {
  const cJSON *all = cJSON_GetObjectItemCaseSensitive(root, "tiles"), *mine, *p;
  if (found) *found = 0;
  if (!all) return 0;
  if (!cJSON_IsObject(all)) return sc_fail(err, "profile %s: \"tiles\" must be an object of <family>_<variant>", path);
  if (!(mine = cJSON_GetObjectItemCaseSensitive(all, key))) return 0;
  if (found) *found = 1;
  if (!cJSON_IsObject(mine))
    return sc_fail(err, "profile %s: tiles.%s must be an object of parameter values", path, key);
  char who[4600];
  snprintf(who, sizeof who, "profile %.4400s, tiles.%.48s", path, key);
  cJSON_ArrayForEach(p, mine) {
    char value[32];
    if (cJSON_IsNumber(p) && p->valuedouble == (double)(long)p->valuedouble)
      snprintf(value, sizeof value, "%ld", (long)p->valuedouble);
    else if (cJSON_IsString(p) && strlen(p->valuestring) < sizeof value && *p->valuestring)
      snprintf(value, sizeof value, "%s", p->valuestring);
    else
      return sc_fail(err, "%s.%s must be an integer or a short string", who, p->string);
    if (tiles_set(t, p->string, value, who, err)) return -1;
  }
  return 0;
}

/* The variant a device runs when nothing chooses one: gpu on GPU and accelerator devices, cpu on CPU devices. */
static sc_variant variant_of_device(const sc_device_info *d) {
  return d->type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR) ? SC_VARIANT_GPU : SC_VARIANT_CPU;
}

static void record(sc_ctx *c, const char *family, sc_variant v, const char *defs, const char *why) {
  int i = 0;
  while (i < c->n_picks && strcmp(c->picks[i].family, family)) i++;
  if (i == SC_MAX_VARIANT_PICKS) return;
  if (i == c->n_picks) c->n_picks++;
  sc_variant_rec *r = &c->picks[i];
  snprintf(r->family, sizeof r->family, "%s", family);
  r->variant = (int)v;
  snprintf(r->tiles, sizeof r->tiles, "%s", defs ? defs : "");
  snprintf(r->why, sizeof r->why, "%s", why);
}

/* The variant of family on c and why: the tuner's candidate, else SCALECL_KERNEL_VARIANT, else the profile (root,
 * read from path; may be NULL), else the device type. */
static int choose(const sc_ctx *c, const char *family, const cJSON *root, const char *path, int *chosen, char *why,
                  size_t cap, sc_err *err) {
  const char *slash = strrchr(path, '/'), *pname = slash ? slash + 1 : path;
  const char *forced = sc_settings_get()->kernel_variant;
  *chosen = sc_variant_parse(forced);
  if (*forced && *chosen < 0)
    return sc_fail(err, "SCALECL_KERNEL_VARIANT='%s' is not a kernel variant (use cpu or gpu, or unset it)", forced);
  /* The tuner's candidate names the variant it tries, whatever would be picked otherwise. */
  const size_t flen = strlen(family);
  if (!strncmp(c->tile_key, family, flen) && c->tile_key[flen] == '_' &&
      sc_variant_parse(c->tile_key + flen + 1) >= 0) {
    *chosen = sc_variant_parse(c->tile_key + flen + 1);
    snprintf(why, cap, "tuner candidate");
  } else if (*chosen >= 0) {
    snprintf(why, cap, "SCALECL_KERNEL_VARIANT");
  } else {
    if (root && profile_variant(root, path, family, chosen, err)) return -1;
    if (*chosen >= 0) {
      snprintf(why, cap, "profile %.100s", pname);
    } else {
      *chosen = (int)variant_of_device(&c->dev);
      snprintf(why, cap, "device type %s", sc_device_type_name(c->dev.type));
    }
  }
  return 0;
}

int sc_variant_choice(const sc_ctx *c, const char *family, sc_variant *v, sc_err *err) {
  cJSON *root = NULL;
  char path[4400], why[128];
  int chosen;
  if (sc_profile_find(c, &root, path, sizeof path, err)) return -1;
  const int rc = choose(c, family, root, path, &chosen, why, sizeof why, err);
  cJSON_Delete(root);
  if (!rc) *v = (sc_variant)chosen;
  return rc;
}

int sc_variant_pick(sc_ctx *c, const char *family, const char *shape, const char *cpu_tiles, const char *gpu_tiles,
                    sc_variant *v, char *defs, size_t cap, sc_err *err) {
  cJSON *root = NULL;
  char path[4400], why[192];
  if (sc_profile_find(c, &root, path, sizeof path, err)) return -1;
  int chosen, rc = choose(c, family, root, path, &chosen, why, sizeof why, err);
  tiles t = {.n = 0};
  char key[48], shaped[96];
  if (!rc) {
    snprintf(key, sizeof key, "%s_%s", family, sc_variant_name((sc_variant)chosen));
    rc = tiles_parse(chosen == SC_VARIANT_GPU ? gpu_tiles : cpu_tiles, &t, key, err);
  }
  /* why names the profile entries that gave tiles, also where the variant was forced */
  int found = 0, found_shape = 0;
  if (!rc && root) rc = profile_tiles(root, path, key, &t, &found, err);
  if (!rc && root && shape && *shape) {
    snprintf(shaped, sizeof shaped, "%s@%.40s", key, shape);
    rc = profile_tiles(root, path, shaped, &t, &found_shape, err);
  }
  if (!rc && (found || found_shape)) {
    const char *slash = strrchr(path, '/');
    const size_t n = strlen(why);
    if (snprintf(why + n, sizeof why - n, "; tiles %s%s%s of %.60s", found ? key : "",
                 found && found_shape ? " and " : "", found_shape ? shaped : "", slash ? slash + 1 : path) < 0)
      why[n] = '\0'; /* a shortened note is fine; a failed one says nothing */
  }
  cJSON_Delete(root);
  if (!rc && c->tile_key[0] && !strcmp(c->tile_key, key)) {
    tiles o;
    char who[96];
    snprintf(who, sizeof who, "tile override for %s", key);
    rc = tiles_parse(c->tile_override, &o, who, err);
    for (int i = 0; !rc && i < o.n; i++) rc = tiles_set(&t, o.name[i], o.value[i], who, err);
  }
  char local[256];
  if (!defs) defs = local, cap = sizeof local;
  if (!rc) rc = tiles_format(&t, defs, cap, err);
  if (rc) return -1;
  *v = (sc_variant)chosen;
  record(c, family, *v, defs, why);
  return 0;
}

long sc_variant_tile(const char *defs, const char *name, long fallback) {
  tiles t;
  sc_err ignored;
  if (!defs || tiles_parse(defs, &t, "tiles", &ignored)) return fallback;
  const int i = tiles_find(&t, name);
  if (i < 0) return fallback;
  char *end;
  const long v = strtol(t.value[i], &end, 10);
  return *end ? fallback : v;
}

int sc_variant_switches_check(const char *family, const char *tiles, sc_err *err) {
  const long ls = sc_variant_tile(tiles, "LS", 1), nexp = sc_variant_tile(tiles, "NEXP", 0);
  if ((ls != 0 && ls != 1) || (nexp != 0 && nexp != 1))
    return sc_fail(err,
                   "%s gpu tiles '%s': LS must be 0 (operands from global memory) or 1 (staged in __local), NEXP 0 "
                   "(exp) or 1 (native_exp)",
                   family, tiles);
  return 0;
}

int sc_variant_wg_check(const sc_device_info *d, const char *family, const char *tiles, size_t bytes_per_item,
                        sc_err *err) {
  const long wg = sc_variant_tile(tiles, "WG", -1);
  if (wg < 1 || wg > 1 << 16 || (wg & (wg - 1)))
    return sc_fail(err, "%s gpu tiles '%s': WG must be a power of two (set tiles.%s_gpu.WG to 64 or 256)", family,
                   tiles, family);
  if ((size_t)wg > d->max_wg)
    return sc_fail(err,
                   "%s gpu tiles '%s': WG=%ld work-items, above the %zu of '%s'; lower tiles.%s_gpu.WG or use "
                   "SCALECL_KERNEL_VARIANT=cpu",
                   family, tiles, wg, d->max_wg, d->name, family);
  if ((size_t)wg * bytes_per_item > d->local_mem)
    return sc_fail(err,
                   "%s gpu tiles '%s': %zu bytes of __local memory (%zu per work-item), above the %llu of '%s'; lower "
                   "tiles.%s_gpu.WG",
                   family, tiles, (size_t)wg * bytes_per_item, bytes_per_item, (unsigned long long)d->local_mem,
                   d->name, family);
  return 0;
}

size_t sc_variant_wg(const sc_ctx *c, size_t want) {
  size_t max = c->dev.max_wg ? c->dev.max_wg : 1;
  while (want > max && want > 1) want /= 2;
  return want;
}

cJSON *sc_variants_json(const sc_ctx *c) {
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; o && i < c->n_picks; i++) {
    cJSON *r = cJSON_CreateObject();
    if (!r || !cJSON_AddItemToObject(o, c->picks[i].family, r) ||
        !cJSON_AddStringToObject(r, "variant", sc_variant_name((sc_variant)c->picks[i].variant)) ||
        !cJSON_AddStringToObject(r, "tiles", c->picks[i].tiles) ||
        !cJSON_AddStringToObject(r, "why", c->picks[i].why)) {
      cJSON_Delete(r);
      cJSON_Delete(o);
      return NULL;
    }
  }
  return o;
}
