/* Lists of names (JSON keys, tensor names): duplicate detection that stays fast on hostile inputs. */
#ifndef SCALECL_BASE_NAMES_H
#define SCALECL_BASE_NAMES_H

#include "base/err.h"

/* Index of the second occurrence of a name that appears more than once in names[0..n) (the lowest such
 * index), or -1 when all differ; -2 with `what` in the message when out of memory. Sorts a copy: O(n log n),
 * so a header with tens of thousands of names is checked in milliseconds. */
int sc_find_duplicate(const char *const *names, int n, const char *what, sc_err *err);

#endif
