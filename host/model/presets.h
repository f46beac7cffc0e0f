/* Model presets: the models/ directory (*.json configs and the IsoFLOP grids isoflop/<stem>.tsv, each row a
 * config), and resolving a user's --model argument (a config path, a checkpoint directory or a preset name). */
#ifndef SCALECL_MODEL_PRESETS_H
#define SCALECL_MODEL_PRESETS_H

#include <stddef.h>

#include "model/config.h"

/* A path (contains '/' or ends in ".json"), a directory holding config.json, or a preset name looked up in
 * sc_models_dir(). */
int sc_model_config_resolve(const char *spec, sc_model_config *cfg, sc_err *err);

/* The models directory: $SCALECL_MODELS_DIR, else <dir of the executable>/models, else the source
 * tree's models/ (the first that exists). */
int sc_models_dir(char *buf, size_t n, sc_err *err);
/* Every preset name in `dir`: the *.json files, then every row of isoflop/<stem>.tsv; sorted within each. */
int sc_preset_names(const char *dir, char ***names, int *n, sc_err *err);
void sc_preset_names_free(char **names, int n);
/* Every preset in `dir`, loaded, in sc_preset_names order (each file read once); the caller frees *cfgs. */
int sc_preset_configs(const char *dir, sc_model_config **cfgs, int *n, sc_err *err);

#endif
