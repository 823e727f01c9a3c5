/* The thread-local error slot: the one piece of mutable global state. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char error_message[1024];
static _Thread_local cg_status error_status = CG_OK;

const char *cg_last_error(void) { return error_message; }

cg_status cg_last_status(void) { return error_status; }

void cg_clear_error(void)
{
    error_message[0] = '\0';
    error_status = CG_OK;
}

cg_status cg_set_error(cg_status status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, args);
    va_end(args);
    error_status = status;
    return status;
}

const char *cg_status_name(cg_status status)
{
    switch (status) {
    case CG_OK: return "CG_OK";
    case CG_ERR_ARG: return "CG_ERR_ARG";
    case CG_ERR_NOMEM: return "CG_ERR_NOMEM";
    case CG_ERR_IO: return "CG_ERR_IO";
    case CG_ERR_FORMAT: return "CG_ERR_FORMAT";
    case CG_ERR_NUMERIC: return "CG_ERR_NUMERIC";
    case CG_ERR_STATE: return "CG_ERR_STATE";
    case CG_ERR_INTERRUPTED: return "CG_ERR_INTERRUPTED";
    }
    return "CG_ERR_UNKNOWN";
}
