#include "base/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sc_settings settings;
static int loaded;

static void read_str(const char *name, char *dst, const char *dflt) {
  const char *v = getenv(name);
  snprintf(dst, SC_SETTING_MAX, "%s", v && *v ? v : dflt);
}

void sc_settings_reload(void) {
  sc_settings *s = &settings;
  read_str("SCALECL_DEVICE", s->device, "");
  read_str("SCALECL_KERNEL_DIR", s->kernel_dir, "");
  read_str("SCALECL_PROFILE_DIR", s->profile_dir, "");
  read_str("SCALECL_CACHE_DIR", s->cache_dir, "");
  const char *dbg = getenv("SCALECL_CACHE_DEBUG");
  s->cache_debug = dbg && *dbg && strcmp(dbg, "0") != 0;
  read_str("SCALECL_BUILD_OPTIONS", s->build_options, "");
  read_str("SCALECL_GEMM", s->gemm, "");
  read_str("SCALECL_KERNEL_VARIANT", s->kernel_variant, "");
  read_str("OPENBLAS_CORETYPE", s->blas_coretype, "");
  read_str("OPENBLAS_THREAD_TIMEOUT", s->blas_thread_timeout, "");
  read_str("SCALECL_MODELS_DIR", s->models_dir, "");
  read_str("SCALECL_DATA_DIR", s->data_dir, "data");
  const char *ws = getenv("SCALECL_MLSTM_WORKSPACE_MB");
  s->mlstm_workspace_mb = ws && atol(ws) > 0 ? atol(ws) : 512;
  read_str("SCALECL_GNUPLOT", s->gnuplot, "");
  read_str("TMPDIR", s->tmp_dir, "/tmp");
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (xdg && *xdg)
    snprintf(s->user_cache, SC_SETTING_MAX, "%s", xdg);
  else if (home && *home)
    snprintf(s->user_cache, SC_SETTING_MAX, "%.4000s/.cache", home);
  else
    s->user_cache[0] = '\0';
  loaded = 1;
}

const sc_settings *sc_settings_get(void) {
  if (!loaded) sc_settings_reload();
  return &settings;
}

cJSON *sc_settings_json(void) {
  const sc_settings *s = sc_settings_get();
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  const struct {
    const char *name, *value;
  } strs[] = {{"SCALECL_DEVICE", s->device},
              {"SCALECL_KERNEL_DIR", s->kernel_dir},
              {"SCALECL_PROFILE_DIR", s->profile_dir},
              {"SCALECL_CACHE_DIR", s->cache_dir},
              {"SCALECL_BUILD_OPTIONS", s->build_options},
              {"SCALECL_GEMM", s->gemm},
              {"SCALECL_KERNEL_VARIANT", s->kernel_variant},
              {"OPENBLAS_CORETYPE", s->blas_coretype},
              {"OPENBLAS_THREAD_TIMEOUT", s->blas_thread_timeout},
              {"SCALECL_MODELS_DIR", s->models_dir},
              {"SCALECL_DATA_DIR", s->data_dir},
              {"SCALECL_GNUPLOT", s->gnuplot}};
  int ok = 1;
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    ok &= cJSON_AddStringToObject(o, strs[i].name, strs[i].value) != NULL;
  ok &= cJSON_AddBoolToObject(o, "SCALECL_CACHE_DEBUG", s->cache_debug) != NULL;
  ok &= cJSON_AddNumberToObject(o, "SCALECL_MLSTM_WORKSPACE_MB", (double)s->mlstm_workspace_mb) != NULL;
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}
