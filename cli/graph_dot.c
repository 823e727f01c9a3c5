/* A model's layer graph in Graphviz DOT (cgrad info --dot): one node a
 * layer with its output shape and parameter count, one edge an input, so
 * that branches and skip connections show. */
#include "cli.h"
#include "plot.h"

#include <stdio.h>
#include <string.h>

/* A DOT string's text: quotes and backslashes escaped, newlines as "\n"
 * (which DOT centres). */
static void put_escaped(FILE *out, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", out);
        else
            fputc(*c, out);
    }
}

static void put_count(FILE *out, int64_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)n);
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) fputc(',', out);
        fputc(digits[i], out);
    }
}

static void put_layer(FILE *out, const cg_layer_spec *l, size_t i)
{
    char what[128], shape[96];
    cg_layer_describe(l, what, sizeof what);
    cg_dims_str(l->out_ndim, l->out_shape, shape, sizeof shape);
    fprintf(out, "  l%zu [label=\"#%zu", i, i);
    if (l->name[0]) {
        fputc(' ', out);
        put_escaped(out, l->name);
    }
    fputs("\\n", out);
    put_escaped(out, what);
    fprintf(out, "\\n%s", shape);
    if (l->n_params > 0) {
        fputs("\\n", out);
        put_count(out, l->n_params);
        fputs(" params", out);
    }
    fputc('"', out);
    /* Merges are where branches meet: make them stand out. */
    if (l->n_inputs > 1) fputs(", shape=ellipse, fillcolor=\"#fde9c4\"", out);
    fputs("];\n", out);
}

static void put_edges(FILE *out, const cg_layer_spec *l, size_t i)
{
    for (int k = 0; k < l->n_inputs; k++) {
        if (l->inputs[k] == CG_LAYER_INPUT)
            fprintf(out, "  input -> l%zu;\n", i);
        else
            fprintf(out, "  l%d -> l%zu;\n", l->inputs[k], i);
    }
}

void cli_write_dot(FILE *out, const cg_model_spec *spec)
{
    char shape[96];
    fputs("digraph \"", out);
    put_escaped(out, spec->name[0] ? spec->name : "model");
    fputs("\" {\n  rankdir=TB;\n"
          "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e8eef7\", "
          "fontname=\"Helvetica\", fontsize=10];\n"
          "  edge [color=\"#555555\"];\n",
          out);
    cg_dims_str(spec->input_ndim, spec->input, shape, sizeof shape);
    fprintf(out, "  input [label=\"input\\n%s\", shape=oval, fillcolor=\"#dddddd\"];\n", shape);
    for (size_t i = 0; i < spec->n_layers; i++) put_layer(out, &spec->layers[i], i);
    fprintf(out, "  loss [label=\"%s loss\\n", cg_loss_name(spec->loss));
    put_count(out, spec->n_params);
    fputs(" params in all\", shape=oval, fillcolor=\"#dddddd\"];\n", out);
    for (size_t i = 0; i < spec->n_layers; i++) put_edges(out, &spec->layers[i], i);
    /* The model's output is its last layer's. */
    if (spec->n_layers > 0) fprintf(out, "  l%zu -> loss;\n", spec->n_layers - 1);
    fputs("}\n", out);
}

int cli_print_dot(const char *cmd, const char *path, bool model_file)
{
    if (model_file) {
        cg_model_spec *spec;
        if (cg_model_spec_load(path, &spec) != CG_OK)
            return cli_fail_load(cmd, path, false, "--dot", NULL);
        cli_write_dot(stdout, spec);
        cg_model_spec_free(spec);
        return EXIT_OK;
    }
    cg_checkpoint *ck;
    if (cg_checkpoint_load(path, &ck) != CG_OK)
        return cli_fail_load(cmd, path, true, "--dot", NULL);
    int code = EXIT_OK;
    if (ck->spec)
        cli_write_dot(stdout, ck->spec);
    else
        code = cli_fail(EXIT_USAGE, cmd, "%s has no cgrad model description in its metadata, so "
                        "there is no layer graph to draw; pass the model file instead", path);
    cg_checkpoint_free(ck);
    return code;
}
