"""Which process of a multi-process run writes shared files."""
import paddle.distributed as dist


def is_main_process():
    """True in a single-process run and on rank 0 of a distributed one."""
    return dist.get_world_size() <= 1 or dist.get_rank() == 0
