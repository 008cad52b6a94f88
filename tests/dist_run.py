#!/usr/bin/env python3
"""dist_run.py - runs the MPI tests (tests/meson.build) under mpirun, with
every rank on this machine (loopback only), and checks the faults.

    dist_run.py run NP EXE [ARGS...]        mpirun -np NP EXE ARGS; its status
    dist_run.py kill EXE                    rank 1 of 2 SIGKILLs itself: the job
                                            must end non-zero within 30 s of the
                                            kill, with no process of EXE left
    dist_run.py resume NP EXE               a run killed after a checkpoint and
                                            resumed ends bit for bit as an
                                            uninterrupted one (model, Adam,
                                            step, data position)

kill and resume run examples/fashion_mnist_dist on a small synthetic
Fashion-MNIST (IDX files written here: 1200 + 200 images whose class is a
bright square's place), so they need no data set and little time.
Extra mpirun flags (e.g. --mca btl self,tcp) go in DIST_MPIRUN_ARGS.
Exit 77 (skipped) where mpirun is absent. Under the valgrind setup (TG_TEST_VALGRIND) every rank runs under
memcheck with Open MPI's own reports suppressed (dist_valgrind.supp);
under AddressSanitizer the ranks run without LeakSanitizer (Open MPI's
exit-time leaks come from unloaded plugins no suppression can name).
"""
import os
import random
import shutil
import struct
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MPIRUN_ARGS = ['--allow-run-as-root', '--oversubscribe', '--mca', 'btl_tcp_if_include', 'lo',
               '--mca', 'oob_tcp_if_include', 'lo']


def mpirun(np, cmd, **kw):
    """Runs cmd on np ranks; returns (status, output, seconds)."""
    args = ['mpirun'] + MPIRUN_ARGS + os.environ.get('DIST_MPIRUN_ARGS', '').split()
    args += ['-np', str(np)]
    if os.environ.get('TG_TEST_VALGRIND'):
        args += ['valgrind', '--quiet', '--error-exitcode=99', '--leak-check=full',
                 '--show-leak-kinds=definite,indirect,possible',
                 '--errors-for-leak-kinds=definite,indirect,possible',
                 '--suppressions=/usr/share/openmpi/openmpi-valgrind.supp',
                 '--suppressions=' + os.path.join(HERE, 'dist_valgrind.supp')]
    env = dict(os.environ)
    if 'ASAN_OPTIONS' in env:
        # Open MPI's plugins leak at exit from frames LeakSanitizer cannot
        # name (unloaded modules), so no suppression matches them: leaks are
        # left to the valgrind setup here; ASan and UBSan's errors still fail.
        env['ASAN_OPTIONS'] += ':detect_leaks=0'
    t0 = time.monotonic()
    p = subprocess.run(args + cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    return p.returncode, p.stdout, time.monotonic() - t0


def write_idx(path, dims, data):
    """An IDX file of unsigned bytes (tg_data.h reads it)."""
    with open(path, 'wb') as f:
        f.write(struct.pack('>BBBB', 0, 0, 8, len(dims)))
        f.write(struct.pack('>' + 'I' * len(dims), *dims))
        f.write(bytes(data))


def synthetic_fashion(d):
    """Images of noise with a bright 7x7 square at one of ten places: the
    class. The train set has 1200 images, the test set 200."""
    rng = random.Random(5)
    for name, n in (('train', 1200), ('t10k', 200)):
        pixels, labels = bytearray(), bytearray()
        for _ in range(n):
            k = rng.randrange(10)
            img = [rng.randrange(60) for _ in range(784)]
            r0, c0 = 7 * (k // 5) + 3, 5 * (k % 5) + 1
            for r in range(r0, r0 + 7):
                for c in range(c0, c0 + 7):
                    img[28 * r + c] = 200 + rng.randrange(56)
            pixels += bytes(img)
            labels.append(k)
        write_idx(os.path.join(d, name + '-images-idx3-ubyte'), [n, 28, 28], pixels)
        write_idx(os.path.join(d, name + '-labels-idx1-ubyte'), [n], labels)
    return d


def survivors(exe):
    """Processes still running exe (by its absolute path)."""
    exe = os.path.realpath(exe)
    left = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                args = [a.decode(errors='replace') for a in f.read().split(b'\0') if a]
            if any(os.path.realpath(a) == exe for a in args if a.startswith(('/', '.'))):
                left.append(int(pid))
        except OSError:
            pass
    return left


def kill_test(exe, data):
    """The clock starts when the dying rank says it kills itself."""
    args = ['mpirun'] + MPIRUN_ARGS + ['-np', '2', exe, '--data', data, '--epochs', '20',
                                       '--test-limit', '100', '--die-at', '30',
                                       '--die-rank', '1']
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t_kill, out = None, []
    for line in p.stdout:
        out.append(line)
        if 'kills itself' in line and t_kill is None:
            t_kill = time.monotonic()
    rc = p.wait()
    secs = time.monotonic() - t_kill if t_kill is not None else float('inf')
    left = survivors(exe)
    print(''.join(out)[-3000:])
    print('kill: mpirun status %d, %.1f s after the kill; processes left: %s' % (rc, secs, left))
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return 0 if rc != 0 and secs <= 30 and not left else 1


def resume_test(np, exe, data):
    common = [exe, '--data', data, '--epochs', '2', '--every', '4']
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, 'a.safetensors'), os.path.join(d, 'b.safetensors')
        ca, cb = os.path.join(d, 'ck_a.safetensors'), os.path.join(d, 'ck_b.safetensors')
        runs = [('uninterrupted', common + ['--checkpoint', ca, '--save', a], 0),
                ('killed at step 14', common + ['--checkpoint', cb, '--die-at', '14',
                                                '--die-rank', str(np - 1)], 'nonzero'),
                ('resumed', common + ['--checkpoint', cb, '--resume', '--save', b], 0)]
        for name, cmd, want in runs:
            rc, out, secs = mpirun(np, cmd, timeout=300)
            print('== %s: status %d, %.1f s\n%s' % (name, rc, secs, out[-1500:]))
            if (want == 0) != (rc == 0):
                print('resume: the %s run ended with status %d' % (name, rc))
                return 1
        with open(a, 'rb') as fa, open(b, 'rb') as fb:
            same_model = fa.read() == fb.read()
        with open(ca, 'rb') as fa, open(cb, 'rb') as fb:
            same_ckpt = fa.read() == fb.read()
        print('resume on %d ranks: final model %s, final checkpoint (Adam, step, data) %s' %
              (np, 'identical' if same_model else 'DIFFERS', 'identical' if same_ckpt else 'DIFFERS'))
        return 0 if same_model and same_ckpt else 1


def main():
    if shutil.which('mpirun') is None:
        print('mpirun is not installed: skipped')
        return 77
    mode = sys.argv[1]
    if mode == 'run':
        rc, out, secs = mpirun(int(sys.argv[2]), sys.argv[3:], timeout=1800)
        print(out)
        return rc
    with tempfile.TemporaryDirectory() as d:
        data = synthetic_fashion(d)
        if mode == 'kill':
            return kill_test(sys.argv[2], data)
        if mode == 'resume':
            return resume_test(int(sys.argv[2]), sys.argv[3], data)
    print('unknown mode ' + mode)
    return 2


if __name__ == '__main__':
    sys.exit(main())
