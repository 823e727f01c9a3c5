/* Confusion matrices of classifiers (eval --confusion): counts of true
 * against predicted classes, and per-class precision, recall and F1. */
#include "plot.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const fashion_mnist_names[] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

void cli_confusion_free(cli_confusion *cm)
{
    free(cm->counts);
    free(cm->names);
    *cm = (cli_confusion){0};
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1])) s[--n] = '\0';
    return s;
}

/* One name a line, as many as the model has classes. */
static cg_status read_class_names(cli_confusion *cm, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return cg_set_error(CG_ERR_IO, "--classes: cannot read %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    cg_status s = CG_OK;
    while (s == CG_OK && getline(&line, &cap, f) >= 0) {
        char *name = trim(line);
        if (n == cm->n_classes)
            s = cg_set_error(CG_ERR_FORMAT, "--classes: %s has more than %d lines; the model has "
                             "%d classes, one name a line", path, n, cm->n_classes);
        else if (!*name || strlen(name) >= CLI_CLASS_NAME_MAX)
            s = cg_set_error(CG_ERR_FORMAT, "--classes: %s:%d: a class name needs 1 to %d "
                             "characters", path, n + 1, CLI_CLASS_NAME_MAX - 1);
        else
            snprintf(cm->names[n++], CLI_CLASS_NAME_MAX, "%s", name);
    }
    free(line);
    fclose(f);
    if (s == CG_OK && n < cm->n_classes)
        s = cg_set_error(CG_ERR_FORMAT, "--classes: %s has %d name%s; the model has %d classes, "
                         "one name a line", path, n, n == 1 ? "" : "s", cm->n_classes);
    return s;
}

static cg_status name_classes(cli_confusion *cm, const cg_dataset *d, const char *data_spec,
                              const char *classes_path)
{
    if (classes_path) return read_class_names(cm, classes_path);
    /* A model trained on text labels has their names in its table. */
    const cg_table *t = d ? d->table : NULL;
    if (t && t->classes && t->n_classes == cm->n_classes) {
        for (int i = 0; i < cm->n_classes; i++)
            snprintf(cm->names[i], CLI_CLASS_NAME_MAX, "%s", t->classes[i]);
        return CG_OK;
    }
    bool fashion = data_spec && strncmp(data_spec, "fashion-mnist:", 14) == 0 &&
                   cm->n_classes == 10;
    for (int i = 0; i < cm->n_classes; i++) {
        if (fashion)
            snprintf(cm->names[i], CLI_CLASS_NAME_MAX, "%s", fashion_mnist_names[i]);
        else
            snprintf(cm->names[i], CLI_CLASS_NAME_MAX, "%d", i);
    }
    return CG_OK;
}

cg_status cli_class_names(cli_confusion *cm, const char *data_spec, const char *classes_path)
{
    return name_classes(cm, NULL, data_spec, classes_path);
}

typedef struct counting {
    cli_confusion *cm;
    const cg_dataset *data;
} counting;

/* The first largest logit, as `cgrad predict` picks the class. */
static int argmax(const float *logits, int n)
{
    int best = 0;
    for (int c = 1; c < n; c++)
        if (logits[c] > logits[best]) best = c;
    return best;
}

static cg_status count_batch(void *user, int64_t first, const cg_tensor *out)
{
    counting *k = user;
    cli_confusion *cm = k->cm;
    for (int64_t i = 0; i < out->shape[0]; i++) {
        int predicted = argmax(out->data + i * cm->n_classes, cm->n_classes);
        int32_t truth = k->data->labels[first + i];
        if (truth < 0 || truth >= cm->n_classes)
            return cg_set_error(CG_ERR_FORMAT, "sample %lld has label %d; the model has %d classes",
                                (long long)(first + i), (int)truth, cm->n_classes);
        cm->counts[(size_t)truth * cm->n_classes + predicted]++;
        cm->correct += predicted == truth;
        cm->samples++;
    }
    return CG_OK;
}

cg_status cli_confusion_compute(cli_confusion *cm, cg_model *model, const cg_dataset *d,
                                int64_t batch, const char *data_spec, const char *classes_path)
{
    *cm = (cli_confusion){0};
    const cg_model_spec *spec = cg_model_get_spec(model);
    if (spec->loss != CG_LOSS_CROSS_ENTROPY || spec->output_ndim != 1)
        return cg_set_error(CG_ERR_ARG, "a confusion matrix needs a classifier (loss "
                            "cross_entropy, one output per class); the model's loss is %s",
                            cg_loss_name(spec->loss));
    if (!d->labels)
        return cg_set_error(CG_ERR_ARG, "%s has no class labels to compare the predictions with",
                            d->source);
    cm->n_classes = (int)spec->output[0];
    size_t n = (size_t)cm->n_classes;
    cm->counts = calloc(n * n, sizeof *cm->counts);
    cm->names = calloc(n, sizeof *cm->names);
    if (!cm->counts || !cm->names) {
        cli_confusion_free(cm);
        return cg_set_error(CG_ERR_NOMEM, "out of memory for a %d-class confusion matrix",
                            (int)n);
    }
    counting k = {cm, d};
    cg_status s = name_classes(cm, d, data_spec, classes_path);
    if (s == CG_OK) s = cg_predict(model, d, batch, count_batch, &k);
    if (s != CG_OK) cli_confusion_free(cm);
    return s;
}

/* ------------------------------------------------------------ reports */

/* NaN where undefined: precision of a class never predicted, recall of
 * one absent from the data. F1 counts an undefined one as 0 (as
 * scikit-learn's zero_division=0) and is undefined only when both are. */
typedef struct class_scores {
    double precision, recall, f1;
    int64_t support;
} class_scores;

static class_scores scores_of(const cli_confusion *cm, int c)
{
    int64_t tp = cm->counts[(size_t)c * cm->n_classes + c], predicted = 0, support = 0;
    for (int k = 0; k < cm->n_classes; k++) {
        predicted += cm->counts[(size_t)k * cm->n_classes + c];
        support += cm->counts[(size_t)c * cm->n_classes + k];
    }
    class_scores s = {.support = support, .f1 = NAN};
    s.precision = predicted ? (double)tp / (double)predicted : NAN;
    s.recall = support ? (double)tp / (double)support : NAN;
    double p = isnan(s.precision) ? 0 : s.precision, r = isnan(s.recall) ? 0 : s.recall;
    if (predicted || support) s.f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
    return s;
}

/* The unweighted mean over the classes that occur (as truth or as a
 * prediction), undefined values as 0. */
static class_scores macro_average(const cli_confusion *cm)
{
    class_scores m = {0};
    int classes = 0;
    for (int c = 0; c < cm->n_classes; c++) {
        class_scores s = scores_of(cm, c);
        if (isnan(s.f1)) continue;
        m.precision += isnan(s.precision) ? 0 : s.precision;
        m.recall += isnan(s.recall) ? 0 : s.recall;
        m.f1 += s.f1;
        m.support += s.support;
        classes++;
    }
    if (classes) m.precision /= classes, m.recall /= classes, m.f1 /= classes;
    return m;
}

static void row_label(const cli_confusion *cm, int c, char *buf, size_t size)
{
    char index[16];
    snprintf(index, sizeof index, "%d", c);
    if (strcmp(index, cm->names[c]) == 0)
        snprintf(buf, size, "%s", index);
    else
        snprintf(buf, size, "%s %s", index, cm->names[c]);
}

static int label_width(const cli_confusion *cm)
{
    int w = (int)strlen("macro average");
    char label[CLI_CLASS_NAME_MAX + 16];
    for (int c = 0; c < cm->n_classes; c++) {
        row_label(cm, c, label, sizeof label);
        if ((int)strlen(label) > w) w = (int)strlen(label);
    }
    return w;
}

static void print_matrix(FILE *out, const cli_confusion *cm, int w_label)
{
    int64_t most = cm->n_classes;
    for (size_t i = 0; i < (size_t)cm->n_classes * cm->n_classes; i++)
        if (cm->counts[i] > most) most = cm->counts[i];
    int w = snprintf(NULL, 0, "%lld", (long long)most) + 1;
    if (w < 5) w = 5;
    char label[CLI_CLASS_NAME_MAX + 16];
    fprintf(out, "confusion matrix (rows: true class, columns: predicted class)\n%-*s", w_label, "");
    for (int c = 0; c < cm->n_classes; c++) fprintf(out, "%*d", w, c);
    fputc('\n', out);
    for (int t = 0; t < cm->n_classes; t++) {
        row_label(cm, t, label, sizeof label);
        fprintf(out, "%-*s", w_label, label);
        for (int p = 0; p < cm->n_classes; p++)
            fprintf(out, "%*lld", w, (long long)cm->counts[(size_t)t * cm->n_classes + p]);
        fputc('\n', out);
    }
}

static void print_score(FILE *out, double v)
{
    if (isnan(v))
        fprintf(out, "%11s", "-");
    else
        fprintf(out, "%11.4f", v);
}

static void print_scores_row(FILE *out, const char *label, int w_label, class_scores s)
{
    fprintf(out, "%-*s", w_label, label);
    print_score(out, s.precision);
    print_score(out, s.recall);
    print_score(out, s.f1);
    fprintf(out, "%10lld\n", (long long)s.support);
}

void cli_confusion_print(FILE *out, const cli_confusion *cm)
{
    int w_label = label_width(cm) + 2;
    print_matrix(out, cm, w_label);
    fprintf(out, "\n%-*s%11s%11s%11s%10s\n", w_label, "", "precision", "recall", "f1", "support");
    char label[CLI_CLASS_NAME_MAX + 16];
    bool undefined = false;
    for (int c = 0; c < cm->n_classes; c++) {
        row_label(cm, c, label, sizeof label);
        class_scores s = scores_of(cm, c);
        print_scores_row(out, label, w_label, s);
        undefined = undefined || isnan(s.precision) || isnan(s.recall);
    }
    print_scores_row(out, "macro average", w_label, macro_average(cm));
    if (undefined) fprintf(out, "(-: undefined, for a class never predicted or not in the data)\n");
}

static cJSON *number_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *confusion_json(const cli_confusion *cm)
{
    cJSON *obj = cJSON_CreateObject(), *classes = cJSON_AddArrayToObject(obj, "classes");
    cJSON *matrix = cJSON_AddArrayToObject(obj, "matrix");
    cJSON *lists[3] = {cJSON_AddArrayToObject(obj, "precision"),
                       cJSON_AddArrayToObject(obj, "recall"), cJSON_AddArrayToObject(obj, "f1")};
    for (int c = 0; c < cm->n_classes; c++) {
        cJSON_AddItemToArray(classes, cJSON_CreateString(cm->names[c]));
        cJSON *row = cJSON_CreateArray();
        const int64_t *counts = cm->counts + (size_t)c * cm->n_classes;
        for (int p = 0; p < cm->n_classes; p++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)counts[p]));
        cJSON_AddItemToArray(matrix, row);
        class_scores s = scores_of(cm, c);
        cJSON_AddItemToArray(lists[0], number_or_null(s.precision));
        cJSON_AddItemToArray(lists[1], number_or_null(s.recall));
        cJSON_AddItemToArray(lists[2], number_or_null(s.f1));
    }
    class_scores m = macro_average(cm);
    cJSON *macro = cJSON_AddObjectToObject(obj, "macro_average");
    cJSON_AddItemToObject(macro, "precision", number_or_null(m.precision));
    cJSON_AddItemToObject(macro, "recall", number_or_null(m.recall));
    cJSON_AddItemToObject(macro, "f1", number_or_null(m.f1));
    return obj;
}

void cli_confusion_print_json(FILE *out, const cli_confusion *cm)
{
    cJSON *obj = confusion_json(cm);
    char *text = cJSON_PrintUnformatted(obj);
    if (text) fprintf(out, ",\"confusion\":%s", text);
    free(text);
    cJSON_Delete(obj);
}
