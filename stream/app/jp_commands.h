/*
 * Entry points of the jackpot commands, one per module, registered in the
 * single table in jp_main.c. Each follows jp_cli.h's conventions.
 */
#ifndef JP_COMMANDS_H
#define JP_COMMANDS_H

#include "app/jp_cli.h"

int jp_cmd_config(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_config_usage[];

int jp_cmd_registry(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_registry_usage[];

int jp_cmd_broker(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_broker_usage[];

int jp_cmd_tail(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_tail_usage[];

int jp_cmd_simulate(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_simulate_usage[];

int jp_cmd_run(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_run_usage[];

int jp_cmd_dev(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_dev_usage[];
int jp_cmd_evaluate(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_evaluate_usage[];

int jp_cmd_dlq(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_dlq_usage[];
int jp_cmd_models(const jp_command_t *cmd, int argc, char **argv);
extern const char jp_cmd_models_usage[];

#endif
