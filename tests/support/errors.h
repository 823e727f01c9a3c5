/* Checks on the library's error message, shared by the op tests. */
#ifndef CG_TEST_ERRORS_H
#define CG_TEST_ERRORS_H

/* cg_last_error() mentions a (and b, when not NULL); else the running test
 * fails with the message. */
void assert_error_mentions(const char *a, const char *b);

#endif
