/* Golden-fixture access; see fixtures.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fixtures.h"

static cg_st_file *fixture;

int fx_load(const char *path)
{
    if (cg_safetensors_load(path, &fixture) != CG_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, cg_last_error());
        return -1;
    }
    return 0;
}

int fx_free(void **state)
{
    (void)state;
    cg_safetensors_free(fixture);
    fixture = NULL;
    return 0;
}

const cg_st_file *fx_file(void)
{
    return fixture;
}

const char *fx_join(char *buf, size_t size, const char *a, const char *b)
{
    if (snprintf(buf, size, "%s.%s", a, b) >= (int)size) fail_msg("name too long: %s.%s", a, b);
    return buf;
}

const char *fx_meta(const char *key)
{
    const char *v = cg_st_meta(fixture, key);
    if (!v) fail_msg("fixture has no metadata \"%s\"", key);
    return v;
}

const char *fx_meta_opt(const char *case_name, const char *field)
{
    char key[256];
    return cg_st_meta(fixture, fx_join(key, sizeof key, case_name, field));
}

const cg_st_entry *fx_entry(const char *case_name, const char *field)
{
    char name[256];
    const cg_st_entry *e = cg_st_find(fixture, fx_join(name, sizeof name, case_name, field));
    if (!e) fail_msg("fixture has no tensor \"%s\"", name);
    return e;
}

int fx_split_list(const char *list, char names[][64], int max)
{
    if (!list) fail_msg("fixture lacks a case list");
    int n = 0;
    const char *s = list;
    while (*s && n < max) {
        size_t len = strcspn(s, ",");
        if (len >= 64) fail_msg("list entry too long in \"%s\"", list);
        memcpy(names[n], s, len);
        names[n++][len] = '\0';
        s += len;
        if (*s == ',') s++;
    }
    return n;
}
