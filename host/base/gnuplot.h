/* Runs gnuplot (the Debian package gnuplot-nox) as a child process on a generated script. SCALECL_GNUPLOT
 * names the executable (default: gnuplot on PATH). */
#ifndef SCALECL_PLOT_H
#define SCALECL_PLOT_H

#include <stddef.h>

#include "base/err.h"

/* Writes the gnuplot executable's path to path and returns 1 if it is installed; 0 (with a message saying how
 * to install it) if not. */
int sc_gnuplot_find(char *path, size_t cap, sc_err *err);

/* s made safe inside a single-quoted gnuplot string with enhanced text (which reads _ ^ { } @ as markup). */
void sc_gnuplot_escape(const char *s, char *out, size_t cap);

/* Runs `gnuplot script` with dir as the working directory; gnuplot's output is appended to the file log,
 * whose tail is in the error message when gnuplot fails. */
int sc_gnuplot_run(const char *gnuplot, const char *dir, const char *script, const char *log, sc_err *err);

/* Writes DIR/SUB NAME.gp, which draws body (gnuplot commands ending in a plot) once into NAME.svg and once into
 * NAME.png, w x h pixels, both in dir; runs it with dir as the working directory and gnuplot's output appended to
 * DIR/SUB gnuplot.log. sub is "" or a folder under dir ending in '/' (for the scripts and data). */
int sc_gnuplot_chart(const char *gnuplot, const char *dir, const char *sub, const char *name, int w, int h,
                     const char *body, sc_err *err);

#endif
