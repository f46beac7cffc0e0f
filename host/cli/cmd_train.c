/* scalecl train: AdamW training of either architecture on token shards into a run directory (train/run.h), and
 * --resume of one. SIGINT and SIGTERM finish the step in flight, write a checkpoint and exit 0; a second signal
 * ends the process at once (the newest checkpoint still resumes it). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/args.h"
#include "cli/commands.h"
#include "cli/long_run.h"
#include "train/run.h"
#include "train/schedule.h"

int cmd_train(int argc, char **argv, sc_err *err) {
  sc_run_opts o = sc_run_defaults();
  const char *resume = NULL, *peak = NULL;
  int verbose = 0, quiet = 0;
  const sc_option opts[] = {
      {"model", SC_OPT_STRING, &o.model, "PRESET|FILE|DIR",
       .help = "model preset, config file, or checkpoint directory whose weights start the run"},
      {"data", SC_OPT_STRING, &o.data, "SHARDS", .help = "token shards (directory or glob; train and val splits)"},
      {"out", SC_OPT_OUTDIR, &o.out, "RUN", .help = "run directory (run.json, metrics.jsonl, checkpoints/, final/)"},
      {"resume", SC_OPT_STRING, &resume, "RUN", .help = "continue a run from its newest complete checkpoint"},
      {"batch", SC_OPT_LONG, &o.batch, "B", .help = "sequences per optimizer step", .lo = 1, .hi = 1 << 20},
      {"micro-batch", SC_OPT_LONG, &o.micro_batch, "M",
       .help = "sequences per forward/backward, dividing B (0: B); gradients accumulate", .lo = 0, .hi = 1 << 20},
      {"ctx", SC_OPT_LONG, &o.ctx, "T", .help = "tokens per sequence", .lo = 2, .hi = 1 << 20},
      {"lr", SC_OPT_DOUBLE, &o.lr, "X", .help = "peak learning rate", .lo = 0, .hi = 10, .flags = SC_OPT_LO_OPEN},
      {"warmup", SC_OPT_LONG, &o.warmup, "N", .help = "linear warmup steps (-1: 10% of the steps)", .lo = -1,
       .hi = 1e12},
      {"cooldown", SC_OPT_LONG, &o.cooldown, "N", .help = "final linear decay steps to 0", .lo = 0, .hi = 1e12},
      {"schedule", SC_OPT_ENUM, &o.schedule, "NAME",
       .help = "cosine: warmup, cosine to 0.1 lr, cooldown (the paper's); constant; wsd: warmup-stable-decay",
       .choices = sc_sched_names},
      {"steps", SC_OPT_LONG, &o.steps, "N", .help = "run length in optimizer steps", .lo = 0, .hi = 1e12},
      {"tokens", SC_OPT_DOUBLE, &o.tokens, "D", .help = "run length in tokens (rounded up to whole steps)", .lo = 0,
       .hi = 1e16},
      {"budget", SC_OPT_DOUBLE, &o.budget, "C",
       .help = "run length as a training FLOP budget (steps as 'scalecl flops --budget' plans them)", .lo = 0,
       .hi = 1e30},
      {"eval-every", SC_OPT_LONG, &o.eval_every, "N", .help = "validation every N steps (0: only at the end)", .lo = 0,
       .hi = 1e12},
      {"eval-batches", SC_OPT_LONG, &o.eval_batches, "N",
       .help = "validation batches of M sequences, the same windows every time (0: no validation)", .lo = 0, .hi = 1e9},
      {"checkpoint-every", SC_OPT_LONG, &o.checkpoint_every, "N", .help = "checkpoint every N steps (0: by time)",
       .lo = 0, .hi = 1e12},
      {"checkpoint-minutes", SC_OPT_DOUBLE, &o.checkpoint_minutes, "M",
       .help = "checkpoint when M minutes passed since the last (0: by steps)", .lo = 0, .hi = 1e6},
      {"keep", SC_OPT_LONG, &o.keep, "K", .help = "checkpoints kept (0: all)", .lo = 0, .hi = 1e9},
      {"seed", SC_OPT_LONG, &o.seed, "S", .help = "seed of the init and the data order", .lo = 0, .hi = 1e15},
      {"no-doc-reset", SC_OPT_FLAG, &o.no_doc_reset, NULL,
       .help = "one document per row (no xLSTM memory reset, no Llama document mask)"},
      {"max-skips", SC_OPT_LONG, &o.max_skips, "N",
       .help = "stop after N steps in a row with a non-finite loss or gradient norm", .lo = 1, .hi = 1e9},
      {"peak", SC_OPT_STRING, &peak, "FILE|none",
       .help = "FMA peak for MFU from `scalecl peak --json FILE` (default: measured, about a second)"},
      {"device", SC_OPT_STRING, &o.device, "SEL", .help = "OpenCL device (see 'scalecl devices')"},
      {"verbose", SC_OPT_FLAG, &verbose, NULL, .help = "print the device memory plan"},
      {"quiet", SC_OPT_FLAG, &quiet, NULL, .help = "no progress line"},
  };
  const sc_args args = {
      "scalecl train --model PRESET|FILE|DIR --data SHARDS --out RUN [--batch B --micro-batch M --ctx T]\n"
      "       [--lr X --warmup N --cooldown N --schedule cosine|constant|wsd] (--steps N | --tokens D | --budget C)\n"
      "       [--eval-every N --eval-batches N] [--checkpoint-every N | --checkpoint-minutes M] [--keep K]\n"
      "       [--seed S] [--device SEL]\n"
      "       scalecl train --resume RUN [--steps N | --tokens D | --budget C] [--device SEL]",
      "Trains with AdamW (beta 0.9/0.95, eps 1e-8, weight decay 0.1 on weight matrices, gradient clipping at\n"
      "norm 0.5) on windows of T tokens from the shards, documents reset at end-of-text tokens. Writes RUN/run.json,\n"
      "RUN/metrics.jsonl (a line per step and per validation), checkpoints in RUN/checkpoints/step-NNNNNNNN (a\n"
      "Hugging Face directory plus the optimizer state), RUN/final and RUN/summary.json. Ctrl-C or SIGTERM finishes\n"
      "the step, writes a checkpoint and exits 0; --resume continues with the same bits as an uninterrupted run.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (!resume && (!o.model || !o.data || !o.out)) {
    sc_fail(err, "give --model, --data and --out (or --resume RUN)");
    return 2;
  }
  if (!resume && (o.steps > 0) + (o.tokens > 0) + (o.budget > 0) != 1) {
    sc_fail(err, "give exactly one of --steps, --tokens and --budget");
    return 2;
  }
  const double gf = sc_mfu_peak("train", peak, o.device, err);
  if (gf < 0) return 1;
  const sc_run_env env = {.peak_gflops = gf, .progress = !quiet, .verbose = verbose};
  volatile sig_atomic_t *stop = sc_stop_signals_catch();
  sc_run_result res;
  const int rc = resume ? sc_run_resume(resume, &o, &env, stop, &res, err) : sc_run_start(&o, &env, stop, &res, err);
  sc_stop_signals_release();
  if (rc) return 1;
  const char *dir = resume ? resume : o.out;
  if (res.stopped) {
    printf("stopped at step %lld with a checkpoint; continue with: scalecl train --resume %s\n", (long long)res.steps,
           dir);
    return 0;
  }
  printf("steps        %lld (%lld skipped)\n", (long long)res.steps, (long long)res.skipped);
  printf("tokens       %lld\n", (long long)res.tokens);
  printf("FLOPs        %.4g\n", res.flops);
  printf("train loss   %.4f (mean of the last 20 steps)\n", res.train_loss);
  if (isfinite(res.val_loss)) printf("val loss     %.4f\n", res.val_loss);
  printf("wall time    %.1f s\n", res.wall_s);
  if (isfinite(res.tokens_per_s)) printf("throughput   %.0f tokens/s", res.tokens_per_s);
  if (isfinite(res.mfu)) printf(", MFU %.1f%%", 100 * res.mfu);
  printf("%srun          %s (final model in %s/final)\n", isfinite(res.tokens_per_s) ? "\n" : "", dir, dir);
  return 0;
}
