/* arch.h - an architecture description: an array of layer specs.
 *
 * Architectures are data.  A config's "model" array is parsed into an arch;
 * a strategy rewrites an arch by inserting DB_LAYER_DROPOUT specs at named
 * sites; the harness builds a model from the result.  The input shape comes
 * from the data set and is not part of the description. */
#ifndef DB_ARCH_H
#define DB_ARCH_H

#include <stddef.h>

#include <cJSON.h>

#include "dberr.h"

#define DB_ARCH_MAX 64

enum db_layer_type {
    DB_LAYER_CONV = 0,    /* units = filters, kernel, stride, pad */
    DB_LAYER_RELU,
    DB_LAYER_MAXPOOL,     /* kernel, stride, pad */
    DB_LAYER_DENSE,       /* units */
    DB_LAYER_EMBEDDING,   /* units = dimension, vocab */
    DB_LAYER_GRU,         /* units = hidden size; outputs the final state,
                           * or with seq the whole state sequence (a layer
                           * of a stack, docs/PLACEMENTS.md) */
    DB_LAYER_DROPOUT,     /* mode, rate, site */
    DB_LAYER_SIGMOID,     /* logistic units: 1 / (1 + exp(-x)) */
    DB_LAYER_BATCHNORM,   /* batch normalisation (kernels.h): per channel of
                           * a conv map, per unit of a dense output; affine,
                           * momentum 0.1, eps 1e-5 (docs/MODERN.md) */
    DB_LAYER_NTYPES
};

/* Where a strategy places dropout. */
enum db_site {
    DB_SITE_NONE = 0,
    DB_SITE_INPUT,     /* on the input pixels */
    DB_SITE_CONV,      /* after a conv layer's ReLU, before pooling */
    DB_SITE_POOL,      /* after a max-pool */
    DB_SITE_DENSE,     /* after a hidden dense layer's ReLU (never logits) */
    DB_SITE_EMBEDDING, /* on the embedding outputs */
    DB_SITE_OUTPUT,    /* on the final recurrent state */
    DB_SITE_USER,      /* written into a config by hand */
    DB_SITE_INTERLAYER, /* between two GRU layers of a stack, on the lower
                           one's output sequence (nn.GRU's dropout=) */
    DB_SITE_RECURRENT, /* on a GRU's state inside its recurrence: a dropout
                          layer of mode recurrent right after the GRU */
    DB_SITE_PREBN,     /* right before a batchnorm layer, on the conv or
                          dense output it normalises (Li et al. 2019's
                          "variance shift" placement) */
    DB_SITE_POSTBN,    /* after the activation that follows a batchnorm
                          layer (with "at": "last", only after the last
                          BN, Li et al.'s recommendation) */
    DB_SITE_NKINDS
};

typedef struct db_layer {
    int type;          /* enum db_layer_type */
    size_t units;
    size_t kernel, stride, pad;
    size_t vocab;
    int mode;          /* dropout: enum dropout_mode (kernels.h) */
    double rate;       /* dropout: drop probability, [0, 1) */
    int site;          /* dropout: enum db_site that placed it */
    int seq;           /* gru: outputs its state sequence (B, T, H), zero
                          rows past each length, instead of the final state */
    size_t block;      /* dropout of mode dropblock: the block size (>= 1);
                          0 for every other mode */
    int wscale;        /* dropout of mode element, channel or position: 1 for
                          the papers' weight scaling (training keeps a unit
                          as it is, evaluation scales every unit by 1 - rate;
                          "scaling": "weight"), 0 for inverted dropout (kept
                          units scaled by 1 / (1 - rate), evaluation the
                          identity), the default */
} db_layer;

typedef struct db_arch {
    size_t n;
    db_layer layers[DB_ARCH_MAX];
} db_arch;

const char *db_layer_type_name(int type);
const char *db_site_name(int site);
const char *db_dropout_mode_name(int mode);
/* 1 when a dropout of this mode may use weight scaling (db_layer.wscale):
 * the Bernoulli modes whose mask multiplies the activations, element,
 * channel and position. */
int db_dropout_mode_wscales(int mode);
/* Weight scaling on every dropout layer of a (the run config's
 * "dropout_scaling": "weight", docs/REPRO.md); an error naming what and the
 * first layer whose mode has no such form. */
int db_arch_set_wscale(db_arch *a, const char *what, db_err *e);

/* Parses a JSON array of layer objects, e.g.
 *   [{"type": "conv", "filters": 32, "kernel": 5, "pad": 2}, {"type": "relu"},
 *    {"type": "maxpool", "kernel": 2, "stride": 2}, {"type": "dense", "units": 10}]
 * Unknown types and unknown keys are errors naming the layer index and key
 * (what = file name, for messages).  A gru with "num_layers": L > 1 becomes
 * L gru layers, all but the last with "sequence": true (their output
 * sequence feeds the next); the canonical form lists them one by one. */
int db_arch_from_json(db_arch *a, const cJSON *model, const char *what,
                      db_err *e);
/* The canonical JSON form (every field of every layer, fixed key order). */
cJSON *db_arch_to_json(const db_arch *a);
/* The base model of a model array (a config's "model", a result's
 * "config.base_model" or "config.model"): its layers without any dropout
 * layer, in the canonical form of db_arch_to_json, into *out (caller frees).
 * Two runs whose base models are equal differ only in where dropout goes;
 * the report pairs runs against the baseline only then, comparing the
 * fingerprint db_json_fingerprint (util/jsonio.h) of this JSON, which result
 * files record as "fingerprints.base_model".  what names the file. */
int db_arch_base_json(cJSON **out, const cJSON *model, const char *what, db_err *e);
/* Appends a layer; error when full. */
int db_arch_push(db_arch *a, const db_layer *l, db_err *e);

#endif
