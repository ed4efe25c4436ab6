/*
 * inline_work_main.c — `inline_work [-q] [-t THREADS] [-n N] (-r ROUNDS |
 * -s SECONDS)`: the 1:3 workload as a program, for the tests that sample
 * a child through exec and that run it under callgrind. Prints the result
 * (unless -q) so that the work cannot be optimized away.
 */
#include "inline_work.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int inline_work_usage(const char *why)
{
    fprintf(stderr,
            "inline_work: %s (usage: inline_work [-q] [-t THREADS>=1] [-n N>=1] "
            "(-r ROUNDS>=1 | -s SECONDS>0))\n",
            why);
    return 2;
}

int main(int argc, char **argv)
{
    long threads = 1, n = 10000, rounds = 0;
    double seconds = 0;
    char *end;
    int c, quiet = 0;
    while ((c = getopt(argc, argv, "qt:n:r:s:")) != -1) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 't':
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 64)
                return inline_work_usage("-t takes a thread count from 1 to 64");
            break;
        case 'n':
            n = strtol(optarg, &end, 10);
            if (*end || n < 1)
                return inline_work_usage("-n takes a positive iteration count");
            break;
        case 'r':
            rounds = strtol(optarg, &end, 10);
            if (*end || rounds < 1)
                return inline_work_usage("-r takes a positive round count");
            break;
        case 's':
            seconds = strtod(optarg, &end);
            if (*end || !(seconds > 0))
                return inline_work_usage("-s takes a positive number of seconds");
            break;
        default:
            return inline_work_usage("unknown option");
        }
    }
    if (optind != argc || (rounds == 0) == (seconds == 0))
        return inline_work_usage("give exactly one of -r and -s, and no operands");
    uint64_t x = inline_work_run((int)threads, n, rounds, seconds);
    if (x == 0) {
        fprintf(stderr, "inline_work: could not start %ld threads\n", threads);
        return 1;
    }
    if (!quiet)
        printf("%" PRIu64 "\n", x);
    return 0;
}
