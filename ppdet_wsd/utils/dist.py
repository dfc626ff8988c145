"""Which process of a multi-process run writes shared files, and the few sums the
processes of a data-parallel run must agree on."""
import paddle
import paddle.distributed as dist


def is_main_process():
    """True in a single-process run and on rank 0 of a distributed one."""
    return dist.get_world_size() <= 1 or dist.get_rank() == 0


def world_size():
    """The number of processes of this run (1 outside ``paddle.distributed.launch``)."""
    return max(1, dist.get_world_size())


def mean_over_processes(value):
    """The mean of a float over every process of a data-parallel run (a collective: every
    process must call it at the same point); ``value`` itself in a single process."""
    world = world_size()
    if world == 1:
        return float(value)
    total = paddle.to_tensor([float(value)], dtype='float32')
    dist.all_reduce(total)
    return float(total.numpy()[0]) / world


def per_process_batch(batch_size, processes):
    """The batch each of ``processes`` data-parallel processes draws so that one
    optimiser step still sees about ``batch_size`` images (at least 1 each)."""
    return max(1, int(round(batch_size / processes)))
