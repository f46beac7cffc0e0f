/* The peer section of `scalecl report devices`: the JSON lines of platforms/peer-torch.py (what a user would run
 * instead: PyTorch on the same device), each file belonging to the device whose benchmark results share its folder
 * (platforms/device-suite.sh writes them side by side), set against scalecl's fastest variant at the same shape and
 * pass. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "base/table.h"
#include "report/devices_impl.h"

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Whether a and b lie in the same directory. */
static int same_dir(const char *a, const char *b) {
  const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
  const size_t na = sa ? (size_t)(sa - a) : 0, nb = sb ? (size_t)(sb - b) : 0;
  return na == nb && !strncmp(a, b, na);
}

/* The device of the first result file in path's directory; -1 when none. */
static int device_of(const rd_set *s, char *const *files, const char *path) {
  for (int i = 0; i < s->nrows; i++)
    if (same_dir(files[s->rows[i].file], path)) return s->rows[i].dev;
  return -1;
}

/* scalecl's row of (dev, kind, config) with the least time (any variant), a decode row or not; NULL when none. */
static const rd_row *fastest(const rd_set *s, int dev, int kind, int decode, const char *config) {
  const rd_row *best = NULL;
  for (int i = 0; i < s->nrows; i++) {
    const rd_row *r = &s->rows[i];
    if (r->dev == dev && r->kind == kind && r->decode == decode && !strcmp(r->config, config) && r->ms > 0 &&
        (!best || r->ms < best->ms))
      best = r;
  }
  return best;
}

enum { P_DEVICE, P_PEER, P_SHAPE, P_MS, P_VARIANT, P_PEER_MS, P_RATIO, P_N };

/* One peer line: a table row per pass (decode: the step), its shape written as the benchmark tables write it. */
static void add_line(sc_table *t, const rd_set *s, int dev, const cJSON *o) {
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "op"), *tv = cJSON_GetObjectItemCaseSensitive(o, "torch");
  if (!cJSON_IsString(op)) return;
  const int att = !strcmp(op->valuestring, "attention"), dec = !strcmp(op->valuestring, "decode");
  if (!att && !dec && strcmp(op->valuestring, "mlstm")) return;
  static const char *const pass[2] = {"fwd", "fwd+bwd"}, *const key[2] = {"fwd_ms", "fwd_bwd_ms"};
  for (int p = 0; p < (dec ? 1 : 2); p++) {
    char config[200], peer[64];
    if (dec)
      snprintf(config, sizeof config, "dh %g decode at cache %g%s", num(o, "head_dim"), num(o, "cache_len"),
               rd_kv_note(o));
    else if (att)
      snprintf(config, sizeof config, "dh %g S%g H%g %s", num(o, "head_dim"), num(o, "seq_len"), num(o, "heads"),
               pass[p]);
    else
      snprintf(config, sizeof config, "chunkwise %g:%g L%g S%g H%g %s", num(o, "dqk"), num(o, "dv"), num(o, "chunk"),
               num(o, "seq_len"), num(o, "heads"), pass[p]);
    snprintf(peer, sizeof peer, "torch %s%s", cJSON_IsString(tv) ? tv->valuestring : "",
             att || dec ? " sdpa" : " chunkwise");
    const rd_row *r = fastest(s, dev, att || dec ? RD_ATTENTION : RD_MLSTM, dec, config);
    const double pms = num(o, dec ? "step_ms" : key[p]);
    sc_table_row(t);
    sc_table_str(t, P_DEVICE, s->devs[dev].label);
    sc_table_str(t, P_PEER, peer);
    sc_table_str(t, P_SHAPE, config);
    sc_table_num(t, P_PEER_MS, pms);
    if (r) {
      sc_table_num(t, P_MS, r->ms);
      sc_table_str(t, P_VARIANT, r->variant);
      sc_table_num(t, P_RATIO, pms / r->ms);
    }
  }
}

int rd_peer_section(FILE *f, const rd_set *s, char *const *files, char *const *peers, int npeers, FILE *warn,
                    sc_err *err) {
  const sc_col cols[P_N] = {
      {"device", NULL, SC_COL_STR, NULL, 0},           {"peer", NULL, SC_COL_STR, NULL, 0},
      {"shape / pass", NULL, SC_COL_STR, NULL, 0},     {"scalecl ms", NULL, SC_COL_NUM, SC_FMT_SIG3, 0},
      {"variant", NULL, SC_COL_STR, NULL, 0},          {"peer ms", NULL, SC_COL_NUM, SC_FMT_SIG3, 0},
      {"peer / scalecl", NULL, SC_COL_NUM, "%.2f", 0},
  };
  sc_table *t = sc_table_create("peers", cols, P_N, err);
  if (!t) return -1;
  for (int i = 0; i < npeers; i++) {
    const int dev = device_of(s, files, peers[i]);
    char *text = NULL;
    sc_err e = {0};
    if (dev < 0) {
      fprintf(warn, "warning: skipped %s: no scalecl result in its folder says which device it ran on\n", peers[i]);
      continue;
    }
    if (sc_read_file(peers[i], &text, NULL, &e)) {
      fprintf(warn, "warning: skipped %s: %s\n", peers[i], e.msg);
      continue;
    }
    int bad = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      cJSON *o = cJSON_Parse(line);
      if (cJSON_IsObject(o))
        add_line(t, s, dev, o);
      else
        bad++;
      cJSON_Delete(o);
    }
    if (bad) fprintf(warn, "warning: %s: %d line(s) are not JSON objects, left out\n", peers[i], bad);
    free(text);
  }
  return rd_md_table(f,
                     "## Against the peer\n\n`platforms/peer-torch.py` on the same device (PyTorch float32, TF32 off: "
                     "`scaled_dot_product_attention` and a torch chunkwise mLSTM with autograd; decode steps over an "
                     "f16 KV cache in float16), beside scalecl's fastest variant at the same shape and pass. "
                     "peer / scalecl over 1: scalecl is faster.\n\n",
                     t, err);
}
