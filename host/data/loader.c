#include "data/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A bijection of [0, N): a 4-round Feistel network on 2*half bits (2^(2 half) < 4N), applied
 * again while the result falls outside [0, N) (cycle walking). O(1) memory for any N, so a
 * position is just (seed, epoch, index). */
static uint64_t permute(const sc_loader *l, uint64_t x, uint64_t n) {
  const uint64_t mask = (1ull << l->half) - 1;
  do {
    uint64_t a = x >> l->half, b = x & mask;
    for (int r = 0; r < 4; r++) {
      uint64_t t = a ^ (mix64(b ^ l->keys[r]) & mask);
      a = b;
      b = t;
    }
    x = a << l->half | b;
  } while (x >= n);
  return x;
}

static void layout_epoch(sc_loader *l) {
  const sc_shard_set *set = l->set;
  const uint64_t T = (uint64_t)l->cfg.T;
  l->shift = l->cfg.shuffle && l->epoch > 0 ? mix64(l->cfg.seed ^ mix64(l->epoch)) % T : 0;
  for (int pass = 0; pass < 2; pass++) {
    l->cum[0] = 0;
    for (int s = 0; s < set->n; s++) {
      uint64_t nt = set->shards[s].ntok;
      l->cum[s + 1] = l->cum[s] + (nt > l->shift + T ? (nt - l->shift - 1) / T : 0);
    }
    if (l->cum[set->n] > 0 || l->shift == 0) break;
    l->shift = 0; /* the shifted cut leaves no window: fall back to the first epoch's cut */
  }
  uint64_t n = l->cum[set->n];
  l->half = 1;
  while (l->half < 32 && (1ull << (2 * l->half)) < n) l->half++;
  for (int r = 0; r < 4; r++) l->keys[r] = mix64(l->cfg.seed ^ mix64(0x5ca1ec1ull + 4 * l->epoch + (uint64_t)r));
}

int sc_loader_open(sc_loader *l, const sc_shard_set *set, const sc_loader_cfg *cfg, sc_err *err) {
  memset(l, 0, sizeof *l);
  if (cfg->B < 1 || cfg->T < 1) return sc_fail(err, "loader: B and T must be >= 1 (got B=%d, T=%d)", cfg->B, cfg->T);
  if (set->n < 1) return sc_fail(err, "loader: the shard set is empty");
  l->set = set;
  l->cfg = *cfg;
  l->cum = sc_calloc((size_t)set->n + 1, sizeof *l->cum, "loader window table", err);
  if (!l->cum) return -1;
  for (int i = 0; i < set->n; i++) {
    const sc_shard *s = &set->shards[i];
    if (cfg->eot >= 0 && s->token_bytes == 2 && cfg->eot > 0xffff) {
      sc_loader_close(l);
      return sc_fail(err,
                     "%s: the document delimiter id %d cannot occur in a 16-bit shard (ids 0..65535), so no "
                     "document start would ever be flagged. Hint: use the delimiter of the shards' tokenizer",
                     s->path, (int)cfg->eot);
    }
    if (cfg->vocab > 0 && s->vocab > (uint32_t)cfg->vocab) {
      sc_loader_close(l);
      return sc_fail(err,
                     "%s: the shard declares a vocabulary of %lu (header slot 3) but the model has %d. Hint: the "
                     "shards were made with another tokenizer; re-create them or set the vocabulary to match",
                     s->path, (unsigned long)s->vocab, cfg->vocab);
    }
  }
  layout_epoch(l);
  if (l->cum[set->n] == 0) {
    sc_loader_close(l);
    return sc_fail(err,
                   "loader: no shard holds a full window of T+1 = %d tokens (%d shards, %llu tokens, first %s). "
                   "Hint: use a smaller T or more data",
                   cfg->T + 1, set->n, (unsigned long long)set->ntok, set->shards[0].path);
  }
  return 0;
}

void sc_loader_close(sc_loader *l) {
  free(l->cum);
  memset(l, 0, sizeof *l);
}

uint64_t sc_loader_windows_per_epoch(const sc_loader *l) {
  return l->cum[l->set->n];
}

/* restrict and a local eot let the compiler keep values in registers: uint8_t stores may alias
 * anything. */
static uint32_t widen(const uint8_t *restrict p, int token_bytes, int32_t *restrict out, size_t w) {
  uint32_t mx = 0;
  if (token_bytes == 2) {
    for (size_t t = 0; t < w; t++) {
      uint32_t v = (uint32_t)p[2 * t] | (uint32_t)p[2 * t + 1] << 8;
      out[t] = (int32_t)v;
      mx = v > mx ? v : mx;
    }
  } else {
    for (size_t t = 0; t < w; t++) {
      uint32_t v = (uint32_t)p[4 * t] | (uint32_t)p[4 * t + 1] << 8 | (uint32_t)p[4 * t + 2] << 16 |
                   (uint32_t)p[4 * t + 3] << 24;
      out[t] = (int32_t)v;
      mx = v > mx ? v : mx;
    }
  }
  return mx;
}

static void flag_starts(const int32_t *restrict tok, int32_t eot, uint8_t *restrict doc, size_t w) {
  for (size_t t = 0; t < w; t++) doc[t] = tok[t] == eot;
}

static int copy_window(const sc_loader *l, const sc_shard *sh, uint64_t off, int32_t *out, uint8_t *doc, sc_err *err) {
  const size_t w = (size_t)l->cfg.T + 1;
  uint32_t mx = widen(sh->data + off * (uint64_t)sh->token_bytes, sh->token_bytes, out, w);
  if (l->cfg.vocab > 0 && mx >= (uint32_t)l->cfg.vocab) {
    size_t t = 0;
    while ((uint32_t)out[t] < (uint32_t)l->cfg.vocab) t++;
    return sc_fail(err,
                   "%s: token %lu at index %llu is outside the model's vocabulary of %d. Hint: the shards were "
                   "made with another tokenizer (llm.c GPT-2 shards use ids up to 50256); re-create them with "
                   "'scalecl prepare' or set the vocabulary to match",
                   sh->path, (unsigned long)(uint32_t)out[t], (unsigned long long)(off + t), l->cfg.vocab);
  }
  if (doc) flag_starts(out, l->cfg.eot, doc, w);
  return 0;
}

int sc_loader_next(sc_loader *l, int32_t *tokens, uint8_t *doc_start, sc_err *err) {
  const int n = l->set->n;
  const size_t w = (size_t)l->cfg.T + 1;
  for (int b = 0; b < l->cfg.B; b++) {
    uint64_t nw = l->cum[n];
    if (l->index >= nw) {
      l->epoch++;
      l->index = 0;
      layout_epoch(l);
      nw = l->cum[n];
    }
    uint64_t j = l->cfg.shuffle ? permute(l, l->index, nw) : l->index;
    l->index++;
    int lo = 0, hi = n - 1; /* the last shard s with cum[s] <= j */
    while (lo < hi) {
      int mid = (lo + hi + 1) / 2;
      if (l->cum[mid] <= j)
        lo = mid;
      else
        hi = mid - 1;
    }
    uint64_t off = l->shift + (j - l->cum[lo]) * (uint64_t)l->cfg.T;
    if (copy_window(l, &l->set->shards[lo], off, tokens + (size_t)b * w, doc_start ? doc_start + (size_t)b * w : NULL,
                    err))
      return -1;
  }
  return 0;
}

void sc_loader_tell(const sc_loader *l, sc_loader_pos *pos) {
  memset(pos, 0, sizeof *pos);
  pos->seed = l->cfg.seed;
  pos->epoch = l->epoch;
  pos->index = l->index;
  pos->fingerprint = l->set->fingerprint;
  pos->T = (uint64_t)l->cfg.T;
  pos->shuffle = (uint64_t)l->cfg.shuffle;
}

int sc_loader_seek(sc_loader *l, const sc_loader_pos *pos, sc_err *err) {
  if (pos->fingerprint != l->set->fingerprint)
    return sc_fail(err,
                   "loader: the saved data position belongs to another shard set (fingerprint %016llx, now %016llx "
                   "for %d shards starting with %s). Hint: resume with the same shards as the original run",
                   (unsigned long long)pos->fingerprint, (unsigned long long)l->set->fingerprint, l->set->n,
                   l->set->shards[0].path);
  if (pos->T != (uint64_t)l->cfg.T || pos->shuffle != (uint64_t)l->cfg.shuffle)
    return sc_fail(err,
                   "loader: the saved data position is for T=%llu shuffle=%llu, but this loader has T=%d shuffle=%d",
                   (unsigned long long)pos->T, (unsigned long long)pos->shuffle, l->cfg.T, l->cfg.shuffle);
  sc_loader saved = *l;
  l->cfg.seed = pos->seed;
  l->epoch = pos->epoch;
  layout_epoch(l);
  if (pos->index > l->cum[l->set->n]) {
    uint64_t nw = l->cum[l->set->n];
    l->cfg = saved.cfg;
    l->epoch = saved.epoch;
    layout_epoch(l);
    return sc_fail(err, "loader: saved window index %llu exceeds the %llu windows of epoch %llu",
                   (unsigned long long)pos->index, (unsigned long long)nw, (unsigned long long)pos->epoch);
  }
  l->index = pos->index;
  return 0;
}

