"""How many CPU threads paddle's math uses in a process, decided before paddle loads.

OpenMP and MKL read ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` once, when paddle loads, so
the choice is made in the environment of each process:

* **inference** (feature extraction, heat maps, evaluation, export, the deploy runner):
  every core of the machine;
* **training** (paddle's eager forward + backward): **one** thread per process. On the
  2-core development machine a detector training step takes 0.93 s with one OpenMP
  thread and 2.65-2.73 s with two (``docs/detector.md``, "Cost on CPU"), and paddle's own
  multi-process launcher starts its trainers with one thread as well. A GPU run does its
  math on the GPU and is not slowed by this.

A value the user set (``OMP_NUM_THREADS`` in the environment before a tool started) always
wins, also in the processes a tool starts: a default set here is marked with
:data:`AUTO_MARK`, so it can be told from a choice.
"""
import os

THREAD_VARS = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')
AUTO_MARK = 'PPDET_WSD_AUTO_THREADS'  # present when THREAD_VARS hold our default


def cores():
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    if hasattr(os, 'sched_getaffinity'):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def user_chose(env):
    """True when ``env`` (a mapping of environment variables) holds a thread count the
    user set rather than a default of :func:`set_default_threads`."""
    return 'OMP_NUM_THREADS' in env and AUTO_MARK not in env


def default_threads(training, processes=1):
    """The default thread count of one process: 1 for training, else the cores shared
    among ``processes`` processes (at least 1)."""
    return 1 if training else max(1, cores() // max(1, processes))


def set_default_threads(env, training, processes=1):
    """Put the default thread count (:func:`default_threads`) into ``env`` unless the user
    chose one.

    Args:
        env (MutableMapping[str, str]): ``os.environ`` (before paddle is imported) or the
            environment of a process about to start.
        training (bool): the process trains a paddle model.
        processes (int): processes sharing the machine's cores.
    Returns:
        int: the thread count ``env`` now asks for.
    """
    if user_chose(env):
        return int(env['OMP_NUM_THREADS'])
    threads = default_threads(training, processes)
    env.update({var: str(threads) for var in THREAD_VARS})
    env[AUTO_MARK] = '1'
    return threads
