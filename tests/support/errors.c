/* See errors.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cgrad.h"
#include "errors.h"

void assert_error_mentions(const char *a, const char *b)
{
    const char *msg = cg_last_error();
    if (!strstr(msg, a) || (b && !strstr(msg, b)))
        fail_msg("error \"%s\" should mention \"%s\"%s%s", msg, a, b ? " and " : "", b ? b : "");
}
