#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/args.h"
#include "base/paths.h"
#include "cli/commands.h"
#include "data/prepare.h"
#include "data/shards.h"

static const char *const description =
    "Tokenizes text with the byte tokenizer (ids 0-255 = bytes, 256 = end of text, vocabulary 259) into\n"
    "llm.c token shards <out>/<name>_train_NNNNNN.bin and <name>_val_NNNNNN.bin, plus <name>_prepare.json.\n"
    "Inputs are files or directories (recursed in name order): plain text, or JSONL (*.jsonl, *.json,\n"
    "*.ndjson) with a string field per line; either may be compressed as .zst (zstd) or .gz/.dz (gzip).\n"
    "Every document is preceded by one end-of-text token. A plain-text document is, by --docs: a whole\n"
    "file (file, the default), a paragraph up to a blank line (paragraph), or a block after a blank line\n"
    "that starts in column 0 (entry: dictionary entries). Documents go to val as a whole, evenly spaced.\n"
    "Shards are written to temp files and renamed when complete. Malformed JSONL lines are skipped and\n"
    "counted; the first 5 are reported with file and line. Memory stays constant whatever the input size.\n"
    "\n"
    "--default builds the default corpus from Debian's dict-gcide (" SC_GCIDE_PATH
    ",\n"
    "GCIDE, GPL-2+): one document per dictionary entry, into $SCALECL_DATA_DIR/gcide (default data/gcide).";

int cmd_prepare(int argc, char **argv, sc_err *err) {
  static const char *const formats[] = {"auto", "text", "jsonl", NULL};         /* sc_input_format order */
  static const char *const docs_kinds[] = {"file", "paragraph", "entry", NULL}; /* sc_text_docs order */
  static const char *const versions[] = {"1", "7", NULL};
  sc_prepare_opts o;
  sc_prepare_defaults(&o);
  sc_strs in = {calloc((size_t)argc + 1, sizeof(const char *)), 0};
  if (!in.v) return sc_fail(err, "out of host memory"), 1;
  long shard_tokens = (long)o.shard_tokens, version = o.version;
  int def = 0, quiet = 0, format = (int)o.format, docs = -1; /* docs -1: by --default */
  const sc_option opts[] = {
      {"in", SC_OPT_STRINGS, &in, "PATH",
       .help = "input file or directory (repeatable; paths may also follow without --in)"},
      {"out", SC_OPT_OUTDIR, &o.out_dir, "DIR", .help = "output directory (created if needed)"},
      {"val-fraction", SC_OPT_DOUBLE, &o.val_fraction, "F", .help = "share of documents for validation", .lo = 0,
       .hi = 1, .flags = SC_OPT_HI_OPEN},
      {"shard-tokens", SC_OPT_LONG, &shard_tokens, "N", .help = "tokens per shard (the default is llm.c's)", .lo = 1,
       .hi = 2147483647.0},
      {"default", SC_OPT_FLAG, &def, NULL, .help = "build the default corpus from dict-gcide"},
      {"docs", SC_OPT_ENUM, &docs, "KIND",
       .help =
           "plain-text documents: whole files, paragraphs or dictionary entries; file by default, entry with --default",
       .choices = docs_kinds},
      {"format", SC_OPT_ENUM, &format, "FMT", .help = "by file name (auto) or forced", .choices = formats},
      {"field", SC_OPT_STRING, &o.text_field, "NAME", .help = "JSONL field holding the text"},
      {"name", SC_OPT_STRING, &o.name, "NAME", .help = "shard name prefix (default: the last component of --out)"},
      {"shard-version", SC_OPT_LONG, &version, "V", .help = "1 (uint16 tokens) or 7 (uint32 tokens)",
       .choices = versions},
      {"force", SC_OPT_FLAG, &o.force, NULL, .help = "replace shards of the same name already in --out"},
      {"quiet", SC_OPT_FLAG, &quiet, NULL, .help = "no progress line"},
  };
  const sc_args args = {"scalecl prepare --in PATH... --out DIR [options] | scalecl prepare --default [--out DIR]",
                        description, opts, SC_NOPTS(opts), &in};
  const char **inputs = in.v;
  int code = sc_args_parse(&args, argc, argv, err);
  o.shard_tokens = (uint64_t)shard_tokens;
  o.version = (int)version;
  o.format = (sc_input_format)format;
  char out_buf[4096];
  if (code == SC_ARGS_RUN && def) {
    if (in.n) code = (sc_fail(err, "--default builds from %s; it takes no --in", SC_GCIDE_PATH), 2);
    if (code == SC_ARGS_RUN && access(SC_GCIDE_PATH, R_OK) != 0)
      code = (sc_fail(err,
                      "--default: %s is missing. Hint: install Debian's dict-gcide (sudo apt-get install dict-gcide, "
                      "or platforms/install-debian.sh)",
                      SC_GCIDE_PATH),
              1);
    inputs[in.n++] = SC_GCIDE_PATH;
    if (docs < 0) docs = SC_DOCS_ENTRY;
    if (!o.out_dir) {
      snprintf(out_buf, sizeof out_buf, "%s/gcide", sc_data_dir());
      o.out_dir = out_buf;
    }
  }
  if (docs >= 0) o.text_docs = (sc_text_docs)docs;
  if (code == SC_ARGS_RUN && !in.n) code = (sc_fail(err, "missing --in PATH (or --default)"), 2);
  if (code == SC_ARGS_RUN && !o.out_dir) code = (sc_fail(err, "missing --out DIR"), 2);
  if (code != SC_ARGS_RUN) {
    free(inputs);
    return code;
  }
  char done[4400], running[4400], dir[4096];
  snprintf(dir, sizeof dir, "%s", o.out_dir);
  for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) dir[n - 1] = '\0';
  const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir, *name = o.name ? o.name : base;
  snprintf(done, sizeof done, "%s/%s_prepare.json", o.out_dir, name);
  snprintf(running, sizeof running, "%s/%s" SC_PREPARE_MARKER, o.out_dir, name);
  if (def && !o.force && sc_is_file(done) && !sc_is_file(running)) {
    /* The default corpus is deterministic: an existing complete one is the same, so scripts may ask again. */
    printf("the default corpus is already in %s (pass --force to build it again)\n", o.out_dir);
    free(inputs);
    return 0;
  }
  o.inputs = inputs;
  o.n_inputs = in.n;
  o.progress = !quiet && isatty(2);
  sc_prepare_stats st;
  int rc = sc_prepare(&o, &st, err);
  free(inputs);
  if (rc) return 1;
  double mb = (double)st.bytes_text / 1e6;
  printf("prepared %s from %llu file%s: %.1f MB of input (%.1f MB stored) in %.2f s, %.1f MB/s (%.2f s CPU)\n",
         o.out_dir, (unsigned long long)st.files, st.files == 1 ? "" : "s", mb, (double)st.bytes_read / 1e6, st.seconds,
         st.seconds > 0 ? mb / st.seconds : 0.0, st.cpu_seconds);
  printf("documents: %llu (train %llu, val %llu)", (unsigned long long)st.documents,
         (unsigned long long)(st.documents - st.docs_val), (unsigned long long)st.docs_val);
  if (st.bad_lines || st.empty_docs)
    printf("; skipped: %llu malformed lines, %llu empty texts", (unsigned long long)st.bad_lines,
           (unsigned long long)st.empty_docs);
  printf("\ntrain: %llu tokens in %d shard%s\nval:   %llu tokens in %d shard%s\n", (unsigned long long)st.tokens_train,
         st.shards_train, st.shards_train == 1 ? "" : "s", (unsigned long long)st.tokens_val, st.shards_val,
         st.shards_val == 1 ? "" : "s");
  if (o.val_fraction > 0 && st.docs_val == 0)
    fprintf(stderr, "warning: no document went to validation (%llu documents, fewer than 1/%g)\n",
            (unsigned long long)st.documents, o.val_fraction);
  return 0;
}
