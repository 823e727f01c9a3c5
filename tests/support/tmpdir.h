/* A scratch directory for one test program: made by the cmocka group setup,
 * emptied and removed by the group teardown. */
#ifndef CG_TEST_TMPDIR_H
#define CG_TEST_TMPDIR_H

/* Makes /tmp/<tag>_XXXXXX; 0, or -1 if it cannot. */
int tmp_dir_create(const char *tag);
/* cmocka group teardown: removes the files in the directory, then it. */
int tmp_dir_remove(void **state);
/* The directory's path. */
const char *tmp_dir(void);
/* "<dir>/<name>", in one of four rotating buffers, so that a few paths can be
 * used together. */
const char *tmp_path(const char *name);

#endif
