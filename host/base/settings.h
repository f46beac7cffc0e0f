/* Every SCALECL_* environment variable, read in this one place. Library code asks sc_settings() instead of
 * getenv, so a number can always be traced to the settings that produced it: `scalecl env` prints them
 * and every benchmark JSON records them (sc_settings_json). */
#ifndef SCALECL_BASE_SETTINGS_H
#define SCALECL_BASE_SETTINGS_H

#include <cjson/cJSON.h>

#define SC_SETTING_MAX 4096

typedef struct {
  char device[SC_SETTING_MAX];         /* SCALECL_DEVICE: selector when --device is absent ("" = default) */
  char kernel_dir[SC_SETTING_MAX];     /* SCALECL_KERNEL_DIR ("" = <dir of scalecl>/cl) */
  char profile_dir[SC_SETTING_MAX];    /* SCALECL_PROFILE_DIR ("" = <dir of scalecl>/profiles) */
  char cache_dir[SC_SETTING_MAX];      /* SCALECL_CACHE_DIR: a path, "off", or "" for the default */
  int cache_debug;                     /* SCALECL_CACHE_DEBUG: 1 prints HIT/MISS/SAVE on stderr */
  char build_options[SC_SETTING_MAX];  /* SCALECL_BUILD_OPTIONS: added to every kernel build */
  char gemm[SC_SETTING_MAX];           /* SCALECL_GEMM: "clblast", "own", "host" or "" (device profile decides) */
  char kernel_variant[SC_SETTING_MAX]; /* SCALECL_KERNEL_VARIANT: "cpu", "gpu" or "" (device profile/type decides) */
  char blas_coretype[SC_SETTING_MAX];  /* OPENBLAS_CORETYPE: the kernels OpenBLAS uses ("" = its own detection) */
  char blas_thread_timeout[SC_SETTING_MAX]; /* OPENBLAS_THREAD_TIMEOUT: log2 cycles idle OpenBLAS threads spin */
  char models_dir[SC_SETTING_MAX];          /* SCALECL_MODELS_DIR ("" = next to scalecl, then the source tree) */
  char data_dir[SC_SETTING_MAX];            /* SCALECL_DATA_DIR (default "data") */
  long mlstm_workspace_mb;                  /* SCALECL_MLSTM_WORKSPACE_MB (default 512) */
  char gnuplot[SC_SETTING_MAX];             /* SCALECL_GNUPLOT ("" = gnuplot on PATH) */
  char tmp_dir[SC_SETTING_MAX];             /* TMPDIR (default /tmp) */
  char user_cache[SC_SETTING_MAX];          /* $XDG_CACHE_HOME, else $HOME/.cache, else "" */
} sc_settings;

/* The settings, read from the environment on first use. */
const sc_settings *sc_settings_get(void);
/* Reads the environment again (tests that change a variable between cases). */
void sc_settings_reload(void);
/* One JSON object with the name and value as used (defaults filled in) of every SCALECL_* variable and of
 * OPENBLAS_CORETYPE, which picks the host GEMM backend's kernels; NULL when out of memory. */
cJSON *sc_settings_json(void);

#endif
