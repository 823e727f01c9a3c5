/* Whole-model golden cases (fixtures written by fixtures/generate.py): a
 * case stores its model's layers as model-file JSON ("<case>.layers"), the
 * torch state dict ("<case>.p.<name>", names in "<case>.params"), the input
 * "x", the upstream gradient "dy", and torch's float64 answers "y", "dx"
 * (absent when x holds token ids) and "g.<name>". */
#ifndef CG_TEST_GOLDEN_MODELS_H
#define CG_TEST_GOLDEN_MODELS_H

/* Builds the case's model, loads torch's parameters by name (the model must
 * have exactly them), runs forward and backward, and fails the running test
 * unless every value is within tol of its tensor's largest magnitude. */
void gm_run_case(const char *case_name, double tol);
/* The largest error seen so far, relative to its tensor's largest value. */
double gm_worst(void);

#endif
