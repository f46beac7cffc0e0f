#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/args.h"
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
  static const sc_opt opts[] = {
      {"in", "PATH", "input file or directory (repeatable; further paths may follow without --in)"},
      {"out", "DIR", "output directory (created if needed)"},
      {"val-fraction", "F", "share of documents for validation, in [0, 1) (default 0.01)"},
      {"shard-tokens", "N", "tokens per shard (default 1e8, as llm.c)"},
      {"default", NULL, "build the default corpus from dict-gcide"},
      {"docs", "KIND", "plain-text documents: file, paragraph or entry (default file)"},
      {"format", "FMT", "auto, text or jsonl (default auto: by file name)"},
      {"field", "NAME", "JSONL field holding the text (default text)"},
      {"name", "NAME", "shard name prefix (default: the last component of --out)"},
      {"shard-version", "V", "1 (uint16 tokens, default) or 7 (uint32 tokens)"},
      {"force", NULL, "replace shards of the same name already in --out"},
      {"quiet", NULL, "no progress line"},
  };
  const int nopts = (int)(sizeof opts / sizeof opts[0]);
  sc_prepare_opts o;
  sc_prepare_defaults(&o);
  const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
  if (!inputs) return sc_fail(err, "out of host memory"), 1;
  int n_in = 0, def = 0, quiet = 0, code = 0;
  const char *docs = NULL;
  sc_argp p;
  sc_argp_init(&p, argc, argv);
  for (int r; !code && (r = sc_arg_next(&p, opts, nopts, err)) != SC_ARG_END;) {
    long v;
    if (r == SC_ARG_ERROR) code = 2;
    if (r == SC_ARG_HELP) {
      sc_usage(stdout, "scalecl prepare --in PATH... --out DIR [options] | scalecl prepare --default [--out DIR]",
               description, opts, nopts);
      free(inputs);
      return 0;
    }
    if (r == SC_ARG_POSITIONAL) {
      if (n_in == 0)
        code = (sc_fail(err, "unexpected argument '%s' (inputs follow --in)", p.value), 2);
      else
        inputs[n_in++] = p.value;
    }
    if (r == 0) inputs[n_in++] = p.value;
    if (r == 1) o.out_dir = p.value;
    if (r == 2) {
      if (sc_parse_double(p.value, "--val-fraction", &o.val_fraction, err))
        code = 2;
      else if (!(o.val_fraction >= 0 && o.val_fraction < 1))
        code = (sc_fail(err, "--val-fraction %s is outside [0, 1)", p.value), 2);
    }
    if (r == 3) {
      if (sc_parse_long(p.value, "--shard-tokens", 1, 2147483647L, &v, err))
        code = 2;
      else
        o.shard_tokens = (uint64_t)v;
    }
    if (r == 4) def = 1;
    if (r == 5) docs = p.value;
    if (r == 6) {
      if (!strcmp(p.value, "auto"))
        o.format = SC_FORMAT_AUTO;
      else if (!strcmp(p.value, "text"))
        o.format = SC_FORMAT_TEXT;
      else if (!strcmp(p.value, "jsonl"))
        o.format = SC_FORMAT_JSONL;
      else
        code = (sc_fail(err, "--format: '%s' is not auto, text or jsonl", p.value), 2);
    }
    if (r == 7) o.text_field = p.value;
    if (r == 8) o.name = p.value;
    if (r == 9) {
      if (sc_parse_long(p.value, "--shard-version", 1, 7, &v, err) || (v != 1 && v != 7))
        code = (sc_fail(err, "--shard-version: '%s' is not 1 (uint16) or 7 (uint32)", p.value), 2);
      else
        o.version = (int)v;
    }
    if (r == 10) o.force = 1;
    if (r == 11) quiet = 1;
  }
  char out_buf[4096];
  if (!code && def) {
    if (n_in) code = (sc_fail(err, "--default builds from %s; it takes no --in", SC_GCIDE_PATH), 2);
    if (!code && access(SC_GCIDE_PATH, R_OK) != 0)
      code = (sc_fail(err,
                      "--default: %s is missing. Hint: install Debian's dict-gcide (sudo apt-get install dict-gcide, "
                      "or platforms/install-debian.sh)",
                      SC_GCIDE_PATH),
              1);
    inputs[n_in++] = SC_GCIDE_PATH;
    if (!docs) docs = "entry";
    if (!o.out_dir) {
      snprintf(out_buf, sizeof out_buf, "%s/gcide", sc_data_dir());
      o.out_dir = out_buf;
    }
  }
  if (!code && docs) {
    if (!strcmp(docs, "file"))
      o.text_docs = SC_DOCS_FILE;
    else if (!strcmp(docs, "paragraph"))
      o.text_docs = SC_DOCS_PARAGRAPH;
    else if (!strcmp(docs, "entry"))
      o.text_docs = SC_DOCS_ENTRY;
    else
      code = (sc_fail(err, "--docs: '%s' is not file, paragraph or entry", docs), 2);
  }
  if (!code && !n_in) code = (sc_fail(err, "no inputs: give --in PATH (see --help), or --default"), 2);
  if (!code && !o.out_dir) code = (sc_fail(err, "no output directory: give --out DIR"), 2);
  if (code) {
    free(inputs);
    return code;
  }
  o.inputs = inputs;
  o.n_inputs = n_in;
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
