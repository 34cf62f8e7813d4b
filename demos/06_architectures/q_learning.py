"""Reinforcement learning in miniature: tabular Q-learning on a 4x4 grid with holes.

The agent starts in the top-left corner; the goal (reward +1) is in the bottom-right, four
holes (reward -1) end an episode early. Nobody tells it the way: it acts, gets rewards, and
updates a table Q(state, action) towards reward + 0.9 max Q(next state). It explores with
probability 0.2 and otherwise takes the best action it knows. It first reaches the goal in
episode 5; over the last 100 of 500 episodes the mean return is 0.58 (exploration still drops
it into holes), and the greedy policy walks to the goal in 6 moves, the shortest path.
Everything runs as one jitted `lax.scan` over episodes.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from handson.demo import standalone
from handson.figures import save, style

SEED = 0  # one seed for every exploration draw
SIZE = 4  # the grid is SIZE x SIZE
HOLES = ((1, 1), (1, 3), (2, 3), (3, 0))  # (row, column) cells that end an episode with -1
GOAL = (3, 3)  # the cell that ends an episode with +1
EPISODES = 500  # episodes of experience
MAX_MOVES = 50  # an episode stops after this many moves
GAMMA = 0.9  # discount: a reward one move later is worth 0.9 of one now
ALPHA = 0.5  # learning rate of the table update
EPSILON = 0.2  # probability of a random action (exploration)
MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])  # up, right, down, left
ARROWS = "↑→↓←"  # drawn for each action


def grid_rewards() -> np.ndarray:
    reward = np.zeros((SIZE, SIZE), np.float32)
    for cell in HOLES:
        reward[cell] = -1
    reward[GOAL] = 1
    return reward


def env_step(cell, action, reward):
    """Move (walls stop you); -> next cell, reward, episode over?"""
    nxt = jnp.clip(cell + jnp.asarray(MOVES)[action], 0, SIZE - 1)
    r = reward[nxt[0], nxt[1]]
    return nxt, r, r != 0


# --8<-- [start:q]
def episode(q, key, reward):
    """One episode of epsilon-greedy Q-learning -> updated table, return."""
    def move(carry):
        q, cell, total, done, t = carry
        explore, pick, tie = jax.random.split(jax.random.fold_in(key, t), 3)
        s = cell[0] * SIZE + cell[1]
        best = jnp.argmax(q[s] + 1e-6 * jax.random.uniform(tie, (4,)))  # ties broken at random
        action = jnp.where(jax.random.uniform(explore) < EPSILON,
                           jax.random.randint(pick, (), 0, 4), best)
        nxt, r, done = env_step(cell, action, reward)
        target = r + GAMMA * jnp.max(q[nxt[0] * SIZE + nxt[1]]) * (1 - done)
        q = q.at[s, action].add(ALPHA * (target - q[s, action]))  # the Q-learning update
        return q, nxt, total + r, done, t + 1

    start = (q, jnp.zeros(2, jnp.int32), 0.0, False, 0)
    q, _, total, _, _ = jax.lax.while_loop(lambda c: ~c[3] & (c[4] < MAX_MOVES), move, start)
    return q, total
# --8<-- [end:q]


@jax.jit
def train(keys, reward):  # one key per episode -> final table, return of each episode
    q = jnp.zeros((SIZE * SIZE, 4))
    return jax.lax.scan(lambda q, key: episode(q, key, reward), q, keys)


def greedy_path(q: np.ndarray, reward: np.ndarray) -> list[tuple[int, int]]:
    cell, path = np.zeros(2, int), [(0, 0)]
    for _ in range(MAX_MOVES):
        cell = np.clip(cell + MOVES[np.argmax(q[cell[0] * SIZE + cell[1]])], 0, SIZE - 1)
        path.append(tuple(int(c) for c in cell))
        if reward[tuple(cell)] != 0:
            break
    return path


def plot(returns: np.ndarray, q: np.ndarray, reward: np.ndarray, path) -> Figure:
    fig = Figure(figsize=(11, 3.4))
    curve_ax, grid_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
    window = min(25, len(returns))  # episodes per point of the running mean
    smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
    curve_ax.plot(np.arange(window, len(returns) + 1), smooth)
    curve_ax.set_xlabel("episode")
    curve_ax.set_ylabel(f"return (mean of {window})")
    curve_ax.set_ylim(-1.05, 1.05)
    for r in range(SIZE):
        for c in range(SIZE):
            color = {-1: "#e8a0b0", 1: "#a8d8b9"}.get(int(reward[r, c]), "white")
            grid_ax.add_patch(Rectangle((c, r), 1, 1, fc=color, ec="#444444", lw=1.5))
            if reward[r, c] == 0:
                weight = "bold" if (r, c) in path else "normal"
                grid_ax.text(c + 0.5, r + 0.55, ARROWS[int(np.argmax(q[r * SIZE + c]))],
                             ha="center", va="center", fontsize=24, weight=weight,
                             color="#c20d4f" if (r, c) in path else "#444444")
    grid_ax.text(GOAL[1] + 0.5, GOAL[0] + 0.55, "goal", ha="center", va="center", fontsize=16)
    grid_ax.set_xlim(0, SIZE)
    grid_ax.set_ylim(SIZE, 0)
    grid_ax.set_aspect("equal")
    grid_ax.axis("off")
    return fig


def main(out_dir: Path, episodes: int = EPISODES) -> dict:
    reward = grid_rewards()
    q, returns = train(jax.random.split(jax.random.key(SEED), episodes), jnp.asarray(reward))
    q, returns = np.asarray(q), np.asarray(returns)
    path = greedy_path(q, reward)
    with style():
        save(plot(returns, q, reward, path), out_dir / "q_learning.svg")
    return {
        "size": SIZE, "holes": len(HOLES), "episodes": len(returns), "epsilon": EPSILON,
        "gamma": GAMMA, "first_success": int(np.argmax(returns > 0)) + 1 if (returns > 0).any() else None,
        "mean_return_first_100": float(returns[:100].mean()),
        "mean_return_last_100": float(returns[-100:].mean()),
        "greedy_moves": len(path) - 1, "greedy_reaches_goal": path[-1] == GOAL,
        "shortest_moves": 2 * (SIZE - 1),
    }


if __name__ == "__main__":
    standalone(main, __file__)
