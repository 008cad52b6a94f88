/* test_atomic_save.c - nothing lost: a child process saves a checkpoint in
 * a loop, alternating two different contents (different shapes, values and
 * metadata), and the parent kills it with SIGKILL at random moments. After
 * every kill the file must load cleanly and be exactly one of the two
 * contents, never a mix or a torn file. Leftover policy (tg_checkpoint.h):
 * a save killed before its rename can leave "<path>.tmp<pid>.<n>" behind,
 * at most one per killed process; it is never read and can be deleted. The
 * test checks that nothing else appears and that there is at most one
 * leftover per kill. TG_TEST_QUICK=1 (valgrind) does fewer kills. */
#include "tg_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NA 65536 /* content A: w = [NA] f32 0, 1, 2, ...; meta which=A */
#define NB 40000 /* content B: w = [NB/4, 4] f32 -0.5 * i; meta which=B */

static tg_tensor *make(int which) {
    tg_tensor *w = which == 0 ? tg_param_new(TG_F32, TG_SHAPE(NA))
                              : tg_param_new(TG_F32, TG_SHAPE(NB / 4, 4));
    if (!w) return NULL;
    float *p = tg_tensor_f32(w);
    for (int i = 0; i < (which == 0 ? NA : NB); i++) p[i] = which == 0 ? (float)i : -0.5f * (float)i;
    return w;
}

static tg_status save(const char *path, tg_tensor *w, int which) {
    const char *names[] = {"w"};
    const char *meta[] = {"which", which == 0 ? "A" : "B"};
    return tg_checkpoint_save(path, 1, names, &w, 1, meta);
}

/* The child: save A, B, A, B, ... until killed. Exits 2 on a save error. */
static void child(const char *path) {
    tg_tensor *w[2] = {make(0), make(1)};
    if (!w[0] || !w[1]) _exit(3);
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    for (unsigned long i = 0;; i++)
        if (save(path, w[i & 1], (int)(i & 1)) != TG_OK) {
            fprintf(stderr, "child: %s\n", err);
            _exit(2);
        }
}

/* Loads path; returns 0 or 1 for content A or B, -1 (with a failed CHECK)
 * for anything else. */
static int check_file(const char *path, int kill_no) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_checkpoint *ck = NULL;
    tg_status st = tg_checkpoint_open(path, &ck);
    CHECK(st == TG_OK, "kill %d: the file does not open: %s", kill_no, err);
    if (st != TG_OK) return -1;
    const char *which = tg_checkpoint_meta(ck, "which");
    int k = which && !strcmp(which, "A") ? 0 : which && !strcmp(which, "B") ? 1 : -1;
    CHECK(k >= 0, "kill %d: metadata which=%s", kill_no, which ? which : "(none)");
    tg_tape *t = tg_tape_new();
    tg_tensor *w = k >= 0 ? tg_checkpoint_get(ck, "w", t) : NULL;
    bool good = w != NULL;
    CHECK(w != NULL || k < 0, "kill %d: tensor w: %s", kill_no, err);
    if (w) {
        int n = k == 0 ? NA : NB;
        good = tg_tensor_numel(w) == n && tg_tensor_rank(w) == (k == 0 ? 1 : 2);
        const float *p = tg_tensor_f32(w);
        for (int i = 0; good && i < n; i++)
            good = p[i] == (k == 0 ? (float)i : -0.5f * (float)i);
        CHECK(good, "kill %d: the data of content %c is wrong", kill_no, "AB"[k]);
    }
    tg_tape_free(t);
    tg_checkpoint_close(ck);
    return good ? k : -1;
}

int main(void) {
    bool quick = getenv("TG_TEST_QUICK") != NULL;
    int kills = quick ? 8 : 50;
    char dir[] = "/dev/shm/tg_atomic_XXXXXX";
    char dir2[] = "/tmp/tg_atomic_XXXXXX";
    const char *d = mkdtemp(dir);
    if (!d) d = mkdtemp(dir2);
    CHECK(d != NULL, "mkdtemp");
    if (!d) return TEST_DONE("atomic_save");
    char path[256];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", d);

    /* an initial content, so that the file exists before the first kill */
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_tensor *w0 = make(0);
    CHECK(w0 && save(path, w0, 0) == TG_OK, "initial save: %s", err);
    tg_param_free(w0);

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int seen[2] = {0, 0}, killed_mid = 0;
    for (int i = 0; i < kills; i++) {
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid < 0) break;
        if (pid == 0) child(path);
        struct timespec ts = {0, (long)(rand() % 5001) * 1000L}; /* 0..5 ms */
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int ws = 0;
        waitpid(pid, &ws, 0);
        CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL, "kill %d: the child exited by itself (%d)",
              i, WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
        int k = check_file(path, i);
        if (k >= 0) seen[k]++;
    }

    /* leftovers: only ckpt.safetensors and its temporaries, at most one per kill */
    int others = 0, temps = 0;
    DIR *dd = opendir(d);
    struct dirent *e;
    char p[512];
    while (dd && (e = readdir(dd))) {
        if (e->d_name[0] == '.') continue;
        if (!strncmp(e->d_name, "ckpt.safetensors.tmp", 20)) temps++;
        else if (strcmp(e->d_name, "ckpt.safetensors")) others++, fprintf(stderr, "stray: %s\n", e->d_name);
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        unlink(p);
    }
    if (dd) closedir(dd);
    killed_mid = temps;
    CHECK(others == 0, "%d unexpected files", others);
    CHECK(temps <= kills, "%d temporary files left by %d kills", temps, kills);
    CHECK(rmdir(d) == 0, "the directory is empty after cleanup");
    printf("atomic_save: %d kills, file was A %d times, B %d times, %d temporaries left "
           "(killed mid-save)\n",
           kills, seen[0], seen[1], killed_mid);
    return TEST_DONE("atomic_save");
}
