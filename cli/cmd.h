/*
 * cmd.h - the `mamori` subcommands that live in their own file.
 */
#ifndef MAMORI_CLI_CMD_H
#define MAMORI_CLI_CMD_H

#include <stdio.h>

#include "mamori/config.h"

/* mamori eval (cli/cmd_eval.c, docs/evaluation.md).  cfg: the file given
 * with -c, or NULL (eval needs no configuration).  Returns the exit
 * status: 0, 1 a floor not met, 2 usage or input error. */
int mm_cmd_eval(const struct mm_config *cfg, int argc, char **argv);
void mm_cmd_eval_usage(FILE *f);

#endif
