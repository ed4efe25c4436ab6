/*
 * commands.h — the commands of qkperf: one file each in harness/cmd/
 * (option parsing, the usage text, calls into the modules that do the
 * work), and the table main dispatches on. A command parses strictly:
 * one-line errors, exit 2 on a usage error. Adding a command is its file
 * plus one entry in qkperf_commands (commands.c).
 */
#ifndef QKPERF_COMMANDS_H
#define QKPERF_COMMANDS_H

typedef struct qkperf_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command's name */
    const char *summary;               /* its line in `qkperf --help` */
    const char *usage;                 /* `qkperf help NAME`, `qkperf NAME --help` */
} qkperf_command;

/* The commands in `qkperf --help` order, ended by a NULL name. An entry
 * with no summary and no usage is internal: not listed, no help. */
extern const qkperf_command qkperf_commands[];

/* The entry named name, or NULL. */
const qkperf_command *qkperf_command_find(const char *name);

/* Each command: the function (0 on success; 2 on a usage error; others
 * as its usage says) and its usage text, which starts "usage: qkperf NAME". */
int qkperf_cmd_probe(int argc, char **argv);
int qkperf_cmd_list(int argc, char **argv);
int qkperf_cmd_run(int argc, char **argv);
int qkperf_cmd_ladder(int argc, char **argv);
int qkperf_cmd_sweep(int argc, char **argv);
int qkperf_cmd_compare(int argc, char **argv);
int qkperf_cmd_plot(int argc, char **argv);
int qkperf_cmd_roofline(int argc, char **argv);
int qkperf_cmd_decode(int argc, char **argv);
int qkperf_cmd_review(int argc, char **argv);
int qkperf_cmd_calibrate(int argc, char **argv);
int qkperf_cmd_ab(int argc, char **argv);
extern const char qkperf_cmd_calibrate_usage[], qkperf_cmd_ab_usage[];
extern const char qkperf_cmd_probe_usage[], qkperf_cmd_list_usage[], qkperf_cmd_run_usage[],
    qkperf_cmd_ladder_usage[], qkperf_cmd_sweep_usage[], qkperf_cmd_compare_usage[],
    qkperf_cmd_plot_usage[], qkperf_cmd_roofline_usage[], qkperf_cmd_decode_usage[],
    qkperf_cmd_review_usage[];

/* `qkperf measure [options] -- CMD [ARGS]` (cmd_measure.c): 0; 1 when the
 * program fails or writes no results; 2 on bad input or unbalanced markers. */
int qkperf_cmd_measure(int argc, char **argv);
extern const char qkperf_cmd_measure_usage[];

/* `qkperf record [options] -- CMD [ARGS]` (cmd_record.c): 0; 1 when the
 * program or the sampling fails; 2 on bad input. */
int qkperf_cmd_record(int argc, char **argv);
extern const char qkperf_cmd_record_usage[];

/* `qkperf __sim-child --op OP --variant V --size S --seed N [--no-staged]`:
 * the sim source's child, which qkperf runs under callgrind (sim.h); not
 * for users, so internal. 0, 1 on failure, 2 on a usage error. */
int qkperf_cmd_sim_child(int argc, char **argv);

#endif
