/*
 * jp_state: the names every part of a task agrees on - its inputs and its
 * state stores. The engine, the task and the processors (jp_proc.h) that
 * keep state of their own all use these, so they live apart from each.
 */
#ifndef JP_STATE_H
#define JP_STATE_H

#include "engine/jp_store.h"

/* The inputs of a task, in the order of partition p's topics. */
typedef enum { JP_INPUT_SALES, JP_INPUT_CUSTOMERS, JP_INPUT_DRAWS, JP_INPUT__COUNT } jp_input_t;

/* The task's state stores, one column family each, in the order of the
 * table handed to jp_store_env_new (meta first: JP_STORE_META_CF). A name
 * is also the changelog's store name (jackpot.<name>-changelog) and the
 * RocksDB column family of existing state directories: never rename one.
 * models, ledger and alerts belong to the processors (learning loop,
 * decisions, alerts); each keys its entries by country first. */
typedef enum {
    JP_CF_META,
    JP_CF_WINDOWS,
    JP_CF_CUSTOMERS,
    JP_CF_DEDUPE,
    JP_CF_MODELS,
    JP_CF_LEDGER,
    JP_CF_ALERTS,
    JP_CF__COUNT
} jp_cf_t;

/* The column family table of every task store, for jp_store_env_new. */
extern const jp_store_cf_def_t jp_task_store_cfs[JP_CF__COUNT];

/* "meta", "windows", ...: the column family and changelog store name
 * (NULL for a value outside the enum). */
const char *jp_cf_name(jp_cf_t cf);

#endif
