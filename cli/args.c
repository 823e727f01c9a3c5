/* Argument parsing and error messages shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Under mpirun a message names its rank, unless the library's agreement
 * already did ("rank 3: ..."). */
static bool names_a_rank(const char *text)
{
    int rank, end = 0;
    return sscanf(text, "rank %d:%n", &rank, &end) == 1 && end > 0;
}

int cli_fail(int code, const char *cmd, const char *fmt, ...)
{
    if (cli_group_silenced()) return code;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (cli_group_size() > 1 && !names_a_rank(text))
        fprintf(stderr, "cgrad %s: rank %d: %s\n", cmd, cli_group_rank(), text);
    else
        fprintf(stderr, "cgrad %s: %s\n", cmd, text);
    return code;
}

int cli_fail_lib(int code, const char *cmd) { return cli_fail(code, cmd, "%s", cg_last_error()); }

void cli_args_init(cli_args *a, const char *cmd, int argc, char **argv)
{
    *a = (cli_args){.argc = argc, .argv = argv, .i = 0, .cmd = cmd};
}

static bool is_option(const char *arg) { return arg[0] == '-' && arg[1] != '\0'; }

bool cli_args_next(cli_args *a)
{
    while (!a->failed && ++a->i < a->argc) {
        const char *arg = a->argv[a->i];
        if (is_option(arg)) return true;
        if (a->n_positional == (int)(sizeof a->positional / sizeof a->positional[0])) {
            cli_fail(EXIT_USAGE, a->cmd, "too many arguments (\"%s\"); see --help", arg);
            a->failed = true;
            return false;
        }
        a->positional[a->n_positional++] = arg;
    }
    return false;
}

bool cli_flag(cli_args *a, const char *name) { return strcmp(a->argv[a->i], name) == 0; }

bool cli_option(cli_args *a, const char *name, const char **value)
{
    const char *arg = a->argv[a->i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0) return false;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return true;
    }
    if (arg[len] != '\0') return false;
    if (a->i + 1 >= a->argc) {
        cli_fail(EXIT_USAGE, a->cmd, "%s needs a value; see --help", name);
        a->failed = true;
        *value = NULL;
        return true;
    }
    *value = a->argv[++a->i];
    return true;
}

void cli_unknown(cli_args *a)
{
    cli_fail(EXIT_USAGE, a->cmd, "unknown option \"%s\"; see --help", a->argv[a->i]);
    a->failed = true;
}

bool cli_parse_int(const char *cmd, const char *name, const char *text, int64_t min,
                   int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || errno || end == text || *end || v < min || v > max) {
        cli_fail(EXIT_USAGE, cmd, "%s: expected an integer in [%lld, %lld], got \"%s\"", name,
                 (long long)min, (long long)max, text ? text : "");
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_float(const char *cmd, const char *name, const char *text, double lo, double hi,
                     double *out)
{
    char *end;
    double v = text ? strtod(text, &end) : NAN;
    if (!text || end == text || *end || !(v >= lo && v <= hi)) {
        cli_fail(EXIT_USAGE, cmd, "%s: expected a number in [%g, %g], got \"%s\"", name, lo, hi,
                 text ? text : "");
        return false;
    }
    *out = v;
    return true;
}
