/* Kernel variants and their tile parameters. Every hot op family has two forms of its kernels, chosen per device:
 *   cpu: one work-item per work-group owning a register tile, no __local memory, no barriers (PoCL on CPUs runs a
 *        work-item as a scalar loop, so this is what vectorises there);
 *   gpu: work-groups of 64-256 work-items, tiles staged in __local memory with barriers, coalesced loads,
 *        work-group reductions through __local memory.
 * Which one runs: SCALECL_KERNEL_VARIANT=cpu|gpu forces it for every family; else the device profile's
 * "kernel_variant" (a string for every family, or an object family -> "cpu"|"gpu"); else "gpu" on GPU and
 * accelerator devices and "cpu" on CPU devices. Tile parameters are -D defines: the op's defaults, overridden by
 * the profile's "tiles": {"<family>_<variant>": {"NAME": value}}, then by its "<family>_<variant>@<shape>" entry for
 * the op's shape ("attention_gpu@dh256": tiles that win at one head dim only), then by the context's tile override
 * (the tuner's candidates; its key "<family>_<variant>" also forces that variant for the family). Every pick is
 * recorded in the context so benchmarks can report what ran. */
#ifndef SCALECL_RUNTIME_VARIANT_H
#define SCALECL_RUNTIME_VARIANT_H

#include <cjson/cJSON.h>

#include "runtime/context.h"

typedef enum { SC_VARIANT_CPU = 0, SC_VARIANT_GPU = 1 } sc_variant;

/* "cpu" or "gpu". */
const char *sc_variant_name(sc_variant v);
/* Parses "cpu"/"gpu"; -1 for anything else. */
int sc_variant_parse(const char *s);

/* The variant sc_variant_pick would choose for `family` on c (the tuner's candidate, SCALECL_KERNEL_VARIANT, the
 * profile's kernel_variant, the device type), without its tiles and without recording the pick. */
int sc_variant_choice(const sc_ctx *c, const char *family, sc_variant *v, sc_err *err);

/* The variant of `family` ("gemm", "mlstm", "attention", "norm", "xent", "adamw", ...) on c's device, and its
 * tile defines: "NAME=V NAME=V" starting from tile_defaults (the op's defaults for that variant, or NULL when the
 * variant has no tiles) with the profile's (the family's, then those of `shape`, e.g. "dh128"; NULL: none) and the
 * override's values replacing them by name. A profile value for a name the defaults lack is an error naming the
 * profile, the key and the names it takes. cpu_tiles and gpu_tiles are the defaults of each variant. defs may be NULL
 * when the family has no tiles. */
int sc_variant_pick(sc_ctx *c, const char *family, const char *shape, const char *cpu_tiles, const char *gpu_tiles,
                    sc_variant *v, char *defs, size_t cap, sc_err *err);

/* The integer value of NAME in a tile defines string ("A=1 B=2", as sc_variant_pick writes it), or fallback when
 * NAME is absent or its value is not an integer: how an op reads back the tiles its host code sizes launches by. */
long sc_variant_tile(const char *defs, const char *name, long fallback);

/* The switches gpu tile sets of the flash and chunk kernels share, each 0 or 1 when present: LS (0: operands
 * straight from global memory, 1: staged in __local, the default) and NEXP (1: native_exp); the error names the
 * family's tiles. */
int sc_variant_switches_check(const char *family, const char *tiles, sc_err *err);

/* Work-group size for a gpu kernel: want, lowered to the device's max work-group size (a power of two). */
size_t sc_variant_wg(const sc_ctx *c, size_t want);

/* The rule of a gpu family whose tiles hold one work-group size WG (norm, xent, adamw): WG a power of two within
 * device d's work-group limit, and its __local buffer of bytes_per_item bytes per work-item within d's local memory.
 * The error names the family's tiles and the limit. Ops check their picked tiles with it and the tuner its
 * candidates, so both apply one rule. */
int sc_variant_wg_check(const sc_device_info *d, const char *family, const char *tiles, size_t bytes_per_item,
                        sc_err *err);

/* {"<family>": {"variant": "gpu", "tiles": "NAME=V ...", "why": "device type GPU"}} of every pick made on c; NULL
 * when out of memory. */
cJSON *sc_variants_json(const sc_ctx *c);

#endif
