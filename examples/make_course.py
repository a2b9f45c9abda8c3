"""Generate the LectureLens sample course ("Intro to Machine Learning") and its ground truth.

Usage::

    .venv/bin/python examples/make_course.py [--out examples/course] [--truth examples/course_truth.json]

What it writes (all synthetic, deterministic, re-runnable; same inputs give byte-identical files):

``<out>/slides/ml_basics.pdf``
    A 15-page 16:9 deck drawn with matplotlib's PDF backend (TrueType fonts, so pypdf extracts the
    text). Every page has the same navy title bar and footer, a distinct title, 3 bullet lines and
    (on most pages) a diagram: neural network graph, gradient-descent contour plot, agent-environment
    loop, bar charts, decision tree, clusters, confusion matrix...
``<out>/lectures/lecture1_supervised.mp4`` + ``.vtt``
    Full-frame slides (pages rendered from the PDF with pypdfium2) changing at known times, one
    ~10 s stretch with no slide (a "camera" shot: dark room, swaying speaker silhouette).
``<out>/lectures/lecture2_reinforcement.mp4`` + ``.srt``
    Full-frame slides; revisits page 4 (also shown in lecture 1) and shows page 9 twice.
``<out>/lectures/lecture3_clustering.mp4`` (no caption file)
    Lecture-capture layout: the slide scaled to 70 % at the left, a grey speaker box at the right.
``<out>/audio/podcast_overfitting.mp3`` + ``.vtt``
    Narration only (overfitting, regularization, dropout, early stopping).

Narration is espeak-ng (one wav per sentence, durations measured from the sample counts, joined
with fixed pauses), so every caption cue (one per sentence) is exact. Slide changes fall on frame
boundaries. Video: H.264 (libx264, yuv420p, 640x360, 5 fps) + AAC mono 22.05 kHz via PyAV.

``--truth`` (default ``examples/course_truth.json``) receives the ground truth: page titles/text,
per-video slide timelines (``page: null`` = no slide on screen), the narration cues (also for the
uncaptioned lecture 3, as what an STT system should hear), ~20 questions with where they are
answered (``facts``), plus ``offtopic`` and ``neighbouring`` questions the course does not cover.

Requires: matplotlib, pypdfium2, pypdf, PyAV (``av``), numpy, Pillow and the ``espeak-ng`` binary.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import tempfile
import textwrap
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import matplotlib

matplotlib.use("pdf")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pypdfium2 as pdfium  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

HERE = Path(__file__).resolve().parent
DECK = "slides/ml_basics.pdf"
COURSE_TITLE = "Intro to Machine Learning"

# video / audio parameters
W, H = 640, 360
FPS = 5
SR = 22050  # espeak-ng native rate
VOICE, SPEED = "en-us", 165
GAP = 0.45  # pause between sentences (s)
LEAD = 0.6  # silence after a slide appears, before the first sentence (s)
TAIL = 0.8  # silence after the last sentence of a slide (s)
MIN_SLIDE = 10.0

NAVY = "#1f2a44"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

# --------------------------------------------------------------------------------------------
# Slide deck content
# --------------------------------------------------------------------------------------------

PAGES: list[dict] = [
    dict(
        title="Intro to Machine Learning",
        accent="#e07a5f",
        diagram="title",
        bullets=[
            "Supervised learning, reinforcement learning and clustering",
            "Three lectures, one slide deck and a podcast",
            "Course ML-101",
        ],
        desc="title page with three coloured topic boxes",
    ),
    dict(
        title="What is supervised learning?",
        accent="#3d85c6",
        diagram="classes",
        bullets=[
            "Learn a mapping from inputs x to labels y",
            "Training set: a collection of labelled examples",
            "Regression predicts a number; classification predicts a class",
        ],
        desc="scatter plot of two classes separated by a line",
    ),
    dict(
        title="Linear regression and the loss function",
        accent="#6aa84f",
        diagram="regression",
        bullets=[
            "Fit a straight line: y = w x + b",
            "Mean squared error (MSE) measures the prediction error",
            "Minimise the loss to find the best w and b",
        ],
        desc="points with a fitted line and residuals",
    ),
    dict(
        title="Gradient descent",
        accent="#cc4125",
        diagram="gradient",
        bullets=[
            "Step downhill along the negative gradient",
            "The learning rate sets the step size",
            "Too large a learning rate: gradient descent diverges",
        ],
        desc="contour plot of a loss surface with descent steps",
    ),
    dict(
        title="Neural networks",
        accent="#674ea7",
        diagram="network",
        bullets=[
            "Layers of neurons with weights and biases",
            "Activation functions such as ReLU and sigmoid",
            "Non-linearity lets the network fit complex functions",
        ],
        desc="graph of a 3-4-4-2 neural network",
    ),
    dict(
        title="Backpropagation",
        accent="#b45f06",
        diagram="backprop",
        bullets=[
            "Backpropagation uses the chain rule",
            "Gradients flow backward from the loss to each weight",
            "dL/dw = dL/dy \u00b7 dy/dh \u00b7 dh/dw",
        ],
        desc="computation chain x-h-y-L with forward and backward arrows",
    ),
    dict(
        title="Reinforcement learning: agent and environment",
        accent="#0b8043",
        diagram="rlloop",
        bullets=[
            "The agent takes an action in the environment",
            "It receives a reward and the next state",
            "Goal: maximise the cumulative reward",
        ],
        desc="agent-environment loop diagram",
    ),
    dict(
        title="Discount factor and the return",
        accent="#e69138",
        diagram="discount",
        bullets=[
            "The discount factor gamma weights future rewards",
            "Return G = r1 + \u03b3 r2 + \u03b3\u00b2 r3 + \u2026",
            "Gamma near 0: short-sighted; gamma near 1: far-sighted",
        ],
        desc="bar chart of gamma^k weights for gamma 0.9 and 0.5",
    ),
    dict(
        title="The Bellman equation",
        accent="#3c78d8",
        diagram="grid",
        bullets=[
            "Value of a state = reward + gamma \u00d7 value of the next state",
            "V(s) = max over a of [ R(s, a) + \u03b3 V(s') ]",
            "Used by value iteration and Q-learning",
        ],
        desc="4x4 grid world heat map of state values",
    ),
    dict(
        title="Exploration vs exploitation",
        accent="#a61c00",
        diagram="bandit",
        bullets=[
            "Epsilon-greedy: a random action with probability epsilon",
            "Otherwise exploit the best known action",
            "Multi-armed bandit: the simplest trade-off",
        ],
        desc="bar chart of estimated payouts of five bandit arms",
    ),
    dict(
        title="Overfitting and regularization",
        accent="#45818e",
        diagram="overfit",
        bullets=[
            "Overfitting: low training error, high test error",
            "L2 regularization (weight decay) penalises large weights",
            "Dropout and early stopping also reduce overfitting",
        ],
        desc="training and validation loss curves diverging",
    ),
    dict(
        title="Decision trees",
        accent="#38761d",
        diagram="tree",
        bullets=[
            "Split on the feature with the highest information gain",
            "Gini impurity measures how mixed a node is",
            "Deep trees overfit: prune them or limit the depth",
        ],
        desc="small decision tree with yes/no splits",
    ),
    dict(
        title="k-means clustering",
        accent="#c27ba0",
        diagram="kmeans",
        bullets=[
            "Unsupervised: the data has no labels",
            "Assign each point to the nearest centroid",
            "Move each centroid to the mean of its points; repeat",
        ],
        desc="three coloured clusters with centroid markers",
    ),
    dict(
        title="Choosing k: the elbow method",
        accent="#8e7cc3",
        diagram="elbow",
        bullets=[
            "Plot the within-cluster sum of squares against k",
            "Pick k where the curve bends (the elbow)",
            "Here the elbow is at k = 3",
        ],
        desc="line plot of within-cluster sum of squares versus k",
    ),
    dict(
        title="Precision and recall",
        accent="#134f5c",
        diagram="confusion",
        bullets=[
            "Precision = TP / (TP + FP)",
            "Recall = TP / (TP + FN)",
            "F1 score: harmonic mean of precision and recall",
        ],
        desc="2x2 confusion matrix",
    ),
]


def _arrow(ax, a, b, color="k", lw=2.0, rad=0.0, style="-|>", ms=18):
    ax.add_patch(
        FancyArrowPatch(
            a, b, arrowstyle=style, mutation_scale=ms, color=color, lw=lw, connectionstyle=f"arc3,rad={rad}"
        )
    )


def _box(ax, xy, w, h, text, fc, fs=16, tc="white"):
    ax.add_patch(FancyBboxPatch(xy, w, h, boxstyle="round,pad=0.02,rounding_size=0.04", fc=fc, ec="none"))
    ax.text(
        xy[0] + w / 2, xy[1] + h / 2, text, ha="center", va="center", fontsize=fs, color=tc, fontweight="bold"
    )


def draw_diagram(fig, kind: str, accent: str, rng: np.random.Generator):
    """Draw the page's diagram into the right-hand area (or the lower band for 'title')."""
    if kind == "title":
        ax = fig.add_axes([0.06, 0.08, 0.88, 0.30])
        ax.set_xlim(0, 3)
        ax.set_ylim(0, 1)
        ax.axis("off")
        for i, (name, c) in enumerate(
            [("Supervised", "#3d85c6"), ("Reinforcement", "#0b8043"), ("Clustering", "#c27ba0")]
        ):
            _box(ax, (i + 0.08, 0.1), 0.84, 0.8, name, c, fs=22)
        return
    ax = fig.add_axes([0.56, 0.10, 0.40, 0.68])
    if kind == "classes":
        a = rng.normal([1.0, 1.0], 0.45, (25, 2))
        b = rng.normal([2.6, 2.4], 0.45, (25, 2))
        ax.scatter(a[:, 0], a[:, 1], c="#3d85c6", s=60, label="class A")
        ax.scatter(b[:, 0], b[:, 1], c="#e69138", marker="^", s=70, label="class B")
        xs = np.linspace(-0.2, 3.8, 10)
        ax.plot(xs, 3.5 - xs, "k--", lw=2)
        ax.legend(loc="upper left", fontsize=13)
        ax.set_xlabel("feature x1", fontsize=13)
        ax.set_ylabel("feature x2", fontsize=13)
    elif kind == "regression":
        x = np.linspace(0, 10, 14)
        y = 0.8 * x + 1 + rng.normal(0, 1.0, x.size)
        w, b = np.polyfit(x, y, 1)
        ax.plot(x, w * x + b, color=accent, lw=3)
        ax.vlines(x, np.minimum(y, w * x + b), np.maximum(y, w * x + b), colors="#999999", lw=1.5)
        ax.scatter(x, y, c="#333333", s=50, zorder=3)
        ax.set_xlabel("x", fontsize=14)
        ax.set_ylabel("y", fontsize=14)
        ax.set_title("residuals", fontsize=13)
    elif kind == "gradient":
        gx, gy = np.meshgrid(np.linspace(-3, 3, 120), np.linspace(-3, 3, 120))
        z = 0.6 * gx**2 + 1.6 * gy**2
        ax.contourf(gx, gy, z, levels=14, cmap="YlOrRd")
        p = np.array([-2.6, 2.4])
        pts = [p.copy()]
        for _ in range(9):
            p = p - 0.22 * np.array([1.2 * p[0], 3.2 * p[1]])
            pts.append(p.copy())
        pts = np.array(pts)
        ax.plot(pts[:, 0], pts[:, 1], "o-", color="#1f2a44", lw=2.5, ms=7)
        ax.plot([0], [0], "*", color="white", ms=20, mec="k")
        ax.set_xlabel("weight w1", fontsize=13)
        ax.set_ylabel("weight w2", fontsize=13)
        ax.set_title("loss surface", fontsize=13)
    elif kind == "network":
        ax.axis("off")
        layers = [3, 4, 4, 2]
        pos = []
        for li, n in enumerate(layers):
            ys = np.linspace(0.15, 0.85, n) if n > 1 else [0.5]
            pos.append([(0.1 + li * 0.27, y) for y in ys])
        for li in range(len(layers) - 1):
            for a in pos[li]:
                for b in pos[li + 1]:
                    ax.plot([a[0], b[0]], [a[1], b[1]], color="#b4a7d6", lw=1.2, zorder=1)
        cols = ["#6fa8dc", accent, accent, "#f6b26b"]
        for li, layer in enumerate(pos):
            for x, y in layer:
                ax.add_patch(plt.Circle((x, y), 0.045, color=cols[li], zorder=2))
        for x, name in zip([0.1, 0.37, 0.64, 0.91], ["input", "hidden", "hidden", "output"], strict=True):
            ax.text(x, 0.0, name, ha="center", fontsize=13)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.05, 1)
        ax.set_aspect("equal")
    elif kind == "backprop":
        ax.axis("off")
        ax.set_xlim(0, 4.2)
        ax.set_ylim(0, 3)
        for i, n in enumerate(["x", "h", "y", "L"]):
            _box(ax, (0.1 + i * 1.05, 1.2), 0.8, 0.7, n, accent if n != "L" else "#cc0000", fs=22)
        for i in range(3):
            x0 = 0.9 + i * 1.05
            _arrow(ax, (x0, 1.75), (x0 + 0.25, 1.75), "#1f2a44")
            _arrow(ax, (x0 + 0.25, 1.2), (x0, 1.2), "#cc0000", rad=0.0)
        ax.text(2.1, 2.4, "forward pass", ha="center", fontsize=15, color="#1f2a44")
        ax.text(2.1, 0.6, "backward pass: gradients", ha="center", fontsize=15, color="#cc0000")
    elif kind == "rlloop":
        ax.axis("off")
        ax.set_xlim(0, 4)
        ax.set_ylim(0, 4)
        _box(ax, (1.2, 2.8), 1.6, 0.8, "Agent", accent, fs=20)
        _box(ax, (0.9, 0.3), 2.2, 0.8, "Environment", "#1f2a44", fs=20)
        _arrow(ax, (2.9, 3.2), (2.9, 1.0), accent, lw=3, rad=-0.6)
        _arrow(ax, (1.1, 0.8), (1.1, 3.0), "#e69138", lw=3, rad=-0.6)
        _arrow(ax, (1.6, 1.2), (1.6, 2.7), "#3d85c6", lw=3)
        ax.text(3.6, 2.1, "action", fontsize=15, ha="center", color=accent)
        ax.text(0.35, 2.1, "reward", fontsize=15, ha="center", color="#e69138")
        ax.text(2.2, 1.85, "state", fontsize=15, ha="center", color="#3d85c6")
    elif kind == "discount":
        k = np.arange(8)
        ax.bar(k - 0.2, 0.9**k, 0.4, color=accent, label="gamma = 0.9")
        ax.bar(k + 0.2, 0.5**k, 0.4, color="#1f2a44", label="gamma = 0.5")
        ax.set_xlabel("steps into the future k", fontsize=13)
        ax.set_ylabel("weight gamma^k", fontsize=13)
        ax.legend(fontsize=13)
    elif kind == "grid":
        v = np.array(
            [
                [0.59, 0.66, 0.73, 0.81],
                [0.53, 0.0, 0.81, 0.90],
                [0.48, 0.0, 0.90, 1.0],
                [0.43, 0.48, 0.81, 0.90],
            ]
        )
        ax.imshow(v, cmap="Blues", vmin=0, vmax=1.1)
        for (r, c), val in np.ndenumerate(v):
            label = "wall" if val == 0 else ("goal" if val == 1.0 else f"{val:.2f}")
            ax.text(
                c, r, label, ha="center", va="center", fontsize=14, color="white" if val > 0.7 else "black"
            )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("state values V(s), gamma = 0.9", fontsize=13)
    elif kind == "bandit":
        arms = ["arm 1", "arm 2", "arm 3", "arm 4", "arm 5"]
        est = [0.3, 0.55, 0.42, 0.8, 0.2]
        cols = ["#999999"] * 5
        cols[3] = accent
        ax.barh(arms, est, color=cols)
        ax.set_xlim(0, 1)
        ax.set_xlabel("estimated payout", fontsize=13)
        ax.invert_yaxis()
        ax.text(0.82, 3, "exploit", va="center", fontsize=13)
    elif kind == "overfit":
        e = np.arange(1, 41)
        train = 1.8 * np.exp(-e / 8) + 0.05
        val = 1.8 * np.exp(-e / 8) + 0.25 + 0.0009 * (e - 12).clip(0) ** 2
        ax.plot(e, train, color=accent, lw=3, label="training loss")
        ax.plot(e, val, color="#cc0000", lw=3, label="validation loss")
        ax.axvline(12, color="k", ls=":", lw=2)
        ax.text(13, 1.4, "early stopping", fontsize=13)
        ax.set_xlabel("epoch", fontsize=13)
        ax.legend(fontsize=13)
    elif kind == "tree":
        ax.axis("off")
        ax.set_xlim(0, 4)
        ax.set_ylim(0, 4)
        _box(ax, (1.3, 3.0), 1.4, 0.7, "age > 30?", accent, fs=15)
        _box(ax, (0.2, 1.6), 1.4, 0.7, "income > 50k?", "#6aa84f", fs=13)
        _box(ax, (2.6, 1.6), 1.2, 0.7, "buys", "#1f2a44", fs=15)
        _box(ax, (0.0, 0.2), 0.9, 0.6, "buys", "#1f2a44", fs=13)
        _box(ax, (1.1, 0.2), 1.1, 0.6, "no", "#999999", fs=13)
        _arrow(ax, (1.8, 3.0), (1.0, 2.3))
        _arrow(ax, (2.2, 3.0), (3.1, 2.3))
        _arrow(ax, (0.7, 1.6), (0.45, 0.8))
        _arrow(ax, (1.1, 1.6), (1.6, 0.8))
        ax.text(1.15, 2.65, "no", fontsize=13)
        ax.text(2.75, 2.65, "yes", fontsize=13)
    elif kind == "kmeans":
        centers = np.array([[1.0, 1.2], [3.2, 1.0], [2.1, 3.1]])
        cols = ["#c27ba0", "#3d85c6", "#6aa84f"]
        for c, col in zip(centers, cols, strict=True):
            pts = rng.normal(c, 0.38, (22, 2))
            ax.scatter(pts[:, 0], pts[:, 1], c=col, s=45)
            ax.scatter([c[0]], [c[1]], marker="X", c="k", s=260)
        ax.set_title("k = 3 clusters, X = centroid", fontsize=13)
        ax.set_xticks([])
        ax.set_yticks([])
    elif kind == "elbow":
        k = np.arange(1, 9)
        wcss = np.array([100, 52, 22, 18, 15.5, 13.5, 12, 11])
        ax.plot(k, wcss, "o-", color=accent, lw=3, ms=9)
        ax.annotate("elbow", (3, 22), (4.5, 60), fontsize=15, arrowprops=dict(arrowstyle="->", lw=2))
        ax.set_xlabel("number of clusters k", fontsize=13)
        ax.set_ylabel("within-cluster sum of squares", fontsize=13)
    elif kind == "confusion":
        m = np.array([[42, 8], [5, 45]])
        ax.imshow(m, cmap="Greens", vmin=0, vmax=60)
        labels = [["TP", "FN"], ["FP", "TN"]]
        for (r, c), val in np.ndenumerate(m):
            ax.text(c, r, f"{labels[r][c]}\n{val}", ha="center", va="center", fontsize=20)
        ax.set_xticks([0, 1], ["predicted +", "predicted -"], fontsize=13)
        ax.set_yticks([0, 1], ["actual +", "actual -"], fontsize=13)
        ax.set_title("confusion matrix", fontsize=13)
    else:  # pragma: no cover
        raise ValueError(kind)


def make_deck(path: Path) -> None:
    """Write the slide deck PDF (text layer via embedded TrueType fonts)."""
    plt.rcParams.update({"pdf.fonttype": 42, "font.family": "DejaVu Sans", "svg.hashsalt": "ll"})
    rng = np.random.default_rng(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "Title": COURSE_TITLE,
        "Author": "LectureLens sample course",
        "Creator": None,
        "Producer": None,
        "CreationDate": None,
    }
    with PdfPages(path, metadata=meta) as pdf:
        for i, p in enumerate(PAGES, start=1):
            fig = plt.figure(figsize=(12.8, 7.2), dpi=100)
            fig.patch.set_facecolor("white")
            fig.add_artist(Rectangle((0, 0.87), 1, 0.13, transform=fig.transFigure, color=NAVY))
            fig.add_artist(Rectangle((0, 0.855), 1, 0.015, transform=fig.transFigure, color=p["accent"]))
            fig.text(0.035, 0.935, p["title"], fontsize=30, color="white", fontweight="bold", va="center")
            fig.text(0.035, 0.03, f"ML-101 \u00b7 {COURSE_TITLE}", fontsize=11, color="#777777")
            fig.text(0.965, 0.03, f"{i} / {len(PAGES)}", fontsize=11, color="#777777", ha="right")
            if p["diagram"] == "title":
                y = 0.74
                for b in p["bullets"]:
                    fig.text(0.06, y, "\u2022 " + b, fontsize=24, color="#222222", va="top")
                    y -= 0.1
            else:
                y = 0.76
                for b in p["bullets"]:
                    lines = textwrap.wrap(b, 34)
                    fig.text(0.04, y, "\u2022", fontsize=21, color=p["accent"], va="top")
                    fig.text(
                        0.065, y, "\n".join(lines), fontsize=21, color="#222222", va="top", linespacing=1.3
                    )
                    y -= 0.075 * len(lines) + 0.06
            draw_diagram(fig, p["diagram"], p["accent"], rng)
            pdf.savefig(fig)
            plt.close(fig)


def page_text(p: dict) -> str:
    return "\n".join([p["title"], *p["bullets"]])


# --------------------------------------------------------------------------------------------
# Narration scripts. Each segment: page (None = camera, no slide) and sentences; a sentence may
# carry a fact id (see FACTS) marking where a question is answered.
# --------------------------------------------------------------------------------------------


@dataclass
class Seg:
    page: int | None
    sentences: list[tuple[str, str | None]]
    min_dur: float = MIN_SLIDE


def S(text: str, fact: str | None = None) -> tuple[str, str | None]:
    return (text, fact)


LECTURE1 = [
    Seg(
        1,
        [
            S("Welcome to Intro to Machine Learning, lecture one, on supervised learning."),
            S("This course covers supervised learning, reinforcement learning and clustering.", "topics"),
        ],
    ),
    Seg(
        2,
        [
            S("In supervised learning we learn a mapping from inputs x to labels y."),
            S("The training set is a collection of labelled examples."),
            S("Regression predicts a number, while classification predicts a class.", "regcls"),
        ],
    ),
    Seg(
        4,
        [
            S("To fit the model, we minimise a loss function with gradient descent."),
            S("Each step moves the weights downhill, along the negative gradient.", "gd"),
            S("The learning rate sets the step size.", "lr"),
            S("If the learning rate is too large, gradient descent diverges.", "lr"),
        ],
    ),
    Seg(
        None,
        [
            S("Let me step away from the slides for a moment."),
            S(
                "When I trained my first model, I forgot to shuffle the data, and it learned nothing useful.",
                "shuffle",
            ),
        ],
        min_dur=9.0,
    ),
    Seg(
        5,
        [
            S("A neural network stacks layers of neurons, each with weights and a bias."),
            S("An activation function, such as ReLU or the sigmoid, adds non linearity.", "act"),
            S("Without activations, the whole network would collapse into one linear model.", "act"),
        ],
    ),
    Seg(
        6,
        [
            S("How do we get the gradient of every weight? With backpropagation."),
            S(
                "Backpropagation uses the chain rule to pass gradients backward from the loss, "
                "layer by layer.",
                "backprop",
            ),
            S("Each layer multiplies the incoming gradient by its own local derivative.", "backprop"),
        ],
    ),
    Seg(
        15,
        [
            S("Finally, how do we evaluate a classifier?"),
            S("Precision is the fraction of predicted positives that are truly positive.", "precision"),
            S("Recall is the fraction of actual positives that the model finds.", "recall"),
            S("The F1 score is the harmonic mean of precision and recall.", "f1"),
        ],
    ),
]

LECTURE2 = [
    Seg(
        7,
        [
            S("Welcome to lecture two, on reinforcement learning."),
            S(
                "An agent takes an action in an environment, and receives a reward and the next state.",
                "agent",
            ),
            S("The goal of the agent is to maximise the cumulative reward over time.", "agent"),
        ],
    ),
    Seg(
        8,
        [
            S("The discount factor gamma weights future rewards.", "gamma"),
            S("The return adds up the rewards, each multiplied by gamma to the power of its delay."),
            S(
                "With gamma near zero the agent is short sighted; with gamma near one it plans far ahead.",
                "gamma",
            ),
        ],
    ),
    Seg(
        9,
        [
            S("The Bellman equation links the value of a state to the value of the next state.", "bellman"),
            S(
                "The value of a state equals the reward, plus gamma times the value of the next state.",
                "bellman",
            ),
            S("Value iteration and Q learning repeat this update until the values stop changing."),
        ],
    ),
    Seg(
        4,
        [
            S("Remember gradient descent from lecture one."),
            S(
                "Deep Q networks train a neural network on the Bellman target, using gradient descent "
                "with a small learning rate.",
                "dqn",
            ),
        ],
    ),
    Seg(
        10,
        [
            S("An agent must balance exploration and exploitation."),
            S(
                "Epsilon greedy explores: with probability epsilon it picks a random action; "
                "otherwise, the best known action.",
                "epsilon",
            ),
            S("The multi armed bandit is the simplest example of this trade off."),
        ],
    ),
    Seg(
        9,
        [
            S(
                "To recap: the Bellman equation and the discount factor are the core of "
                "reinforcement learning."
            ),
            S("Next time, we turn to clustering."),
        ],
    ),
]

LECTURE3 = [
    Seg(
        13,
        [
            S("Lecture three is about clustering, which is unsupervised: the data has no labels."),
            S("K means assigns each point to the nearest centroid.", "kmeans"),
            S(
                "Then each centroid moves to the mean of its points, and we repeat until the "
                "assignments stop changing.",
                "kmeans",
            ),
            S(
                "Because the result depends on the starting centroids, we run k means several times "
                "with different random starts, and keep the best result.",
                "kinit",
            ),
        ],
    ),
    Seg(
        14,
        [
            S("How many clusters should we use?"),
            S(
                "With the elbow method, we plot the within cluster sum of squares against k, "
                "and pick the k where the curve bends.",
                "elbow",
            ),
            S("In this example, the elbow is at k equals three.", "elbow3"),
        ],
    ),
]

PODCAST = [
    Seg(
        None,
        [
            S("Welcome to the machine learning podcast. Today's topic is overfitting."),
            S(
                "A model overfits when it has low training error but high test error: "
                "it has memorised the noise.",
                "overfit",
            ),
            S("Regularization fights overfitting."),
            S(
                "L2 regularization, also called weight decay, adds a penalty on large weights to the loss.",
                "l2",
            ),
            S(
                "Dropout randomly switches off neurons during training, so the network cannot "
                "rely on any single one.",
                "dropout",
            ),
            S("Early stopping halts training when the validation loss starts to rise.", "early"),
            S("Thanks for listening."),
        ],
        min_dur=0.0,
    ),
]

LECTURES = [
    dict(
        name="lectures/lecture1_supervised.mp4",
        captions="lectures/lecture1_supervised.vtt",
        segs=LECTURE1,
        layout="fullframe",
    ),
    dict(
        name="lectures/lecture2_reinforcement.mp4",
        captions="lectures/lecture2_reinforcement.srt",
        segs=LECTURE2,
        layout="fullframe",
    ),
    dict(name="lectures/lecture3_clustering.mp4", captions=None, segs=LECTURE3, layout="capture"),
]
PODCAST_FILE = "audio/podcast_overfitting.mp3"
PODCAST_CAPTIONS = "audio/podcast_overfitting.vtt"

# id -> (question, short answer, deck pages where the answer is also written)
FACTS: dict[str, tuple[str, str, list[int]]] = {
    "topics": (
        "Which topics does the course cover?",
        "supervised learning, reinforcement learning and clustering",
        [1],
    ),
    "regcls": (
        "What is the difference between regression and classification?",
        "regression predicts a number, classification predicts a class",
        [2],
    ),
    "gd": (
        "Which direction does gradient descent move the weights?",
        "downhill, along the negative gradient",
        [4],
    ),
    "lr": ("What happens if the learning rate is too large?", "gradient descent diverges", [4]),
    "shuffle": (
        "What mistake did the lecturer make when training their first model?",
        "forgot to shuffle the data",
        [],
    ),
    "act": (
        "Why do neural networks need activation functions like ReLU?",
        "they add non-linearity; without them the network is one linear model",
        [5],
    ),
    "backprop": (
        "How does backpropagation compute the gradients?",
        "with the chain rule, passing gradients backward from the loss layer by layer",
        [6],
    ),
    "precision": (
        "What is precision?",
        "fraction of predicted positives that are truly positive, TP / (TP + FP)",
        [15],
    ),
    "recall": (
        "How is recall defined?",
        "fraction of actual positives the model finds, TP / (TP + FN)",
        [15],
    ),
    "f1": ("What is the F1 score?", "the harmonic mean of precision and recall", [15]),
    "agent": (
        "What does a reinforcement learning agent receive after taking an action?",
        "a reward and the next state",
        [7],
    ),
    "gamma": (
        "What does the discount factor gamma do?",
        "weights future rewards; near 0 short-sighted, near 1 far-sighted",
        [8],
    ),
    "bellman": (
        "What does the Bellman equation say?",
        "value of a state = reward + gamma times the value of the next state",
        [9],
    ),
    "dqn": (
        "How are deep Q networks trained?",
        "gradient descent on the Bellman target with a small learning rate",
        [4],
    ),
    "epsilon": (
        "How does epsilon-greedy exploration work?",
        "random action with probability epsilon, otherwise the best known action",
        [10],
    ),
    "kmeans": (
        "How does the k-means algorithm work?",
        "assign points to the nearest centroid, move centroids to the mean, repeat",
        [13],
    ),
    "kinit": (
        "Why is k-means run several times with different random starts?",
        "the result depends on the starting centroids; keep the best run",
        [],
    ),
    "elbow": (
        "How do you choose the number of clusters k?",
        "elbow method: plot within-cluster sum of squares against k, pick the bend",
        [14],
    ),
    "elbow3": ("Where is the elbow in the clustering example?", "at k = 3", [14]),
    "overfit": ("What is overfitting?", "low training error but high test error", [11]),
    "l2": ("What does L2 regularization do?", "penalises large weights (weight decay)", [11]),
    "dropout": (
        "What does dropout do during training?",
        "randomly switches off neurons so the network cannot rely on any single one",
        [11],
    ),
    "early": ("When does early stopping halt training?", "when the validation loss starts to rise", [11]),
}
DECK_ONLY_FACTS = [
    ("What loss function does linear regression minimise?", "mean squared error (MSE)", [3]),
    (
        "How does a decision tree choose a split?",
        "the feature with the highest information gain (Gini impurity measures mixing)",
        [12],
    ),
]
OFFTOPIC = [
    "How does photosynthesis convert sunlight into chemical energy?",
    "What were the main causes of the French Revolution?",
    "What is the capital of Australia?",
    "How do I bake sourdough bread?",
]
NEIGHBOURING = [
    "How does self-attention work in transformers?",
    "How do convolutional filters detect edges in images?",
    "What is the kernel trick in support vector machines?",
    "How does a GAN generator compete with its discriminator?",
    "How does principal component analysis reduce dimensionality?",
]


# --------------------------------------------------------------------------------------------
# Speech
# --------------------------------------------------------------------------------------------


def tts(text: str, tmp: Path, idx: int) -> np.ndarray:
    """Synthesize one sentence with espeak-ng; return int16 mono samples at SR."""
    out = tmp / f"s{idx:04d}.wav"
    subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(SPEED), "-w", str(out), text], check=True, capture_output=True
    )
    with wave.open(str(out), "rb") as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


@dataclass
class Track:
    audio: np.ndarray  # int16
    timeline: list[dict] = field(default_factory=list)
    cues: list[dict] = field(default_factory=list)
    facts: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.audio) / SR


def build_track(segs: list[Seg], tmp: Path, counter: list[int], frame_quantum: float | None) -> Track:
    """Concatenate sentence audio with pauses; record segment timeline and exact cue times."""
    pieces: list[np.ndarray] = []
    n = 0  # samples so far
    timeline, cues, facts = [], [], {}
    for seg in segs:
        seg_start = n
        pieces.append(np.zeros(int(LEAD * SR), np.int16))
        n += int(LEAD * SR)
        for j, (text, fact) in enumerate(seg.sentences):
            if j:
                pieces.append(np.zeros(int(GAP * SR), np.int16))
                n += int(GAP * SR)
            counter[0] += 1
            s = tts(text, tmp, counter[0])
            cue = {
                "start": round(n / SR, 3),
                "end": round((n + len(s)) / SR, 3),
                "text": text,
                "page": seg.page,
            }
            cues.append(cue)
            if fact:
                facts.setdefault(fact, []).append((cue["start"], cue["end"]))
            pieces.append(s)
            n += len(s)
        seg_len = max(n - seg_start + int(TAIL * SR), int(seg.min_dur * SR))
        if frame_quantum:  # slide changes land exactly on frame boundaries
            q = int(round(frame_quantum * SR))
            seg_len = math.ceil(seg_len / q) * q
        pad = seg_start + seg_len - n
        pieces.append(np.zeros(pad, np.int16))
        n += pad
        timeline.append({"start": round(seg_start / SR, 3), "end": round(n / SR, 3), "page": seg.page})
    return Track(np.concatenate(pieces), timeline, cues, facts)


def fmt_ts(t: float, sep: str) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def write_vtt(path: Path, cues: list[dict]) -> None:
    out = ["WEBVTT", ""]
    for i, c in enumerate(cues, 1):
        out += [str(i), f"{fmt_ts(c['start'], '.')} --> {fmt_ts(c['end'], '.')}", c["text"], ""]
    path.write_text("\n".join(out), encoding="utf-8")


def write_srt(path: Path, cues: list[dict]) -> None:
    out = []
    for i, c in enumerate(cues, 1):
        out += [str(i), f"{fmt_ts(c['start'], ',')} --> {fmt_ts(c['end'], ',')}", c["text"], ""]
    path.write_text("\n".join(out), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------


def render_pages(pdf_path: Path, width: int) -> dict[int, Image.Image]:
    doc = pdfium.PdfDocument(str(pdf_path))
    out = {}
    for i in range(len(doc)):
        page = doc[i]
        img = page.render(scale=width / page.get_width()).to_pil().convert("RGB")
        h = round(width * 9 / 16)
        if img.size != (width, h):
            img = img.resize((width, h), Image.LANCZOS)
        out[i + 1] = img
    doc.close()
    return out


def draw_person(d: ImageDraw.ImageDraw, cx: int, top: int, scale: float, color) -> None:
    r = int(22 * scale)
    d.ellipse([cx - r, top, cx + r, top + 2 * r], fill=color)
    d.rounded_rectangle(
        [
            cx - int(58 * scale),
            top + 2 * r + int(8 * scale),
            cx + int(58 * scale),
            top + 2 * r + int(150 * scale),
        ],
        radius=int(40 * scale),
        fill=color,
    )


def camera_frame(t: float) -> Image.Image:
    """A plain 'camera' shot: dark room, desk, a speaker silhouette that sways slightly."""
    img = Image.new("RGB", (W, H), (28, 32, 40))
    d = ImageDraw.Draw(img)
    for y in range(0, H, 4):  # soft vertical gradient
        c = 28 + y // 24
        d.rectangle([0, y, W, y + 3], fill=(c, c + 4, c + 12))
    d.rectangle([0, 300, W, H], fill=(70, 52, 40))  # desk
    d.rectangle([40, 60, 200, 160], outline=(80, 86, 100), width=3)  # picture frame on the wall
    dx = int(round(8 * math.sin(2 * math.pi * t / 3.0)))
    draw_person(d, W // 2 + dx, 110, 1.0, (12, 12, 14))
    return img


def capture_frame(slide: Image.Image, t: float, font, font_small) -> Image.Image:
    """Lecture-capture layout: slide at ~70 % width on the left, speaker box on the right."""
    img = Image.new("RGB", (W, H), (36, 38, 44))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, W, 34], fill=(20, 20, 24))
    d.text((12, 8), "LectureCapture  |  ML-101 Lecture 3", font=font, fill=(210, 210, 210))
    d.text((W - 110, 10), f"REC {int(t) // 60:02d}:{int(t) % 60:02d}", font=font_small, fill=(230, 80, 80))
    img.paste(slide, CAPTURE_SLIDE_BOX[:2])
    x0, y0 = 476, 62
    d.rectangle([x0, y0, W - 12, 300], fill=(128, 128, 132))
    dx = int(round(3 * math.sin(2 * math.pi * t / 4.0)))
    draw_person(d, (x0 + W - 12) // 2 + dx, y0 + 40, 0.75, (60, 60, 66))
    d.text((x0 + 8, 308), "speaker", font=font_small, fill=(180, 180, 180))
    return img


CAPTURE_SCALE = 0.7
CAPTURE_W = int(W * CAPTURE_SCALE)  # 448
CAPTURE_SLIDE_BOX = (14, 62, CAPTURE_W, round(CAPTURE_W * 9 / 16))  # x, y, w, h


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------


def pick_video_codec() -> str:
    for name in ("libx264", "h264", "mpeg4"):
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
                return name
            except Exception:  # noqa: BLE001
                continue
    raise RuntimeError("no usable video encoder in this PyAV build")


def _audio_frames(samples: np.ndarray, chunk: int, fmt: str = "fltp"):
    x = samples.astype(np.float32) / 32768.0
    for off in range(0, len(x), chunk):
        part = x[off : off + chunk]
        if len(part) < chunk:
            part = np.concatenate([part, np.zeros(chunk - len(part), np.float32)])
        fr = av.AudioFrame.from_ndarray(part.reshape(1, -1), format=fmt, layout="mono")
        fr.sample_rate = SR
        fr.pts = off
        fr.time_base = Fraction(1, SR)
        yield fr


def encode_video(path: Path, track: Track, frame_for, vcodec: str, fps: int = FPS) -> None:
    n_frames = math.ceil(round(track.duration * fps, 6))
    audio = np.concatenate(
        [track.audio, np.zeros(max(0, int(n_frames / fps * SR) - len(track.audio)), np.int16)]
    )
    with av.open(str(path), "w", format="mp4", options={"fflags": "+bitexact"}) as out:
        vs = out.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.codec_context.gop_size = 2 * fps  # a keyframe every 2 s: cheap seeking / clipping
        vs.codec_context.thread_count = 1  # deterministic output
        if vcodec == "libx264":
            vs.options = {
                "crf": "28",
                "preset": "slow",
                "tune": "stillimage",
                "x264-params": f"scenecut=0:keyint={2 * fps}:min-keyint={2 * fps}",
            }
        else:
            vs.bit_rate = 250_000
        as_ = out.add_stream("aac", rate=SR, layout="mono")
        as_.bit_rate = 48_000
        afr = _audio_frames(audio, 1024)
        next_audio = next(afr, None)
        for i in range(n_frames):
            t = i / fps
            while next_audio is not None and next_audio.pts / SR <= t + 1 / fps:
                out.mux(as_.encode(next_audio))
                next_audio = next(afr, None)
            frame = av.VideoFrame.from_ndarray(np.asarray(frame_for(t)), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vs.encode(frame))
        while next_audio is not None:
            out.mux(as_.encode(next_audio))
            next_audio = next(afr, None)
        out.mux(vs.encode(None))
        out.mux(as_.encode(None))


def encode_audio(path: Path, samples: np.ndarray) -> str:
    """Write mp3 (libmp3lame) if available, else wav. Returns the file path actually written."""
    if "libmp3lame" in av.codecs_available:
        with av.open(str(path), "w", format="mp3", options={"fflags": "+bitexact"}) as out:
            st = out.add_stream("libmp3lame", rate=SR, layout="mono")
            st.bit_rate = 40_000
            for fr in _audio_frames(samples, 1152):
                out.mux(st.encode(fr))
            out.mux(st.encode(None))
        return str(path)
    wav = path.with_suffix(".wav")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(samples.astype("<i2").tobytes())
    return str(wav)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "course")
    ap.add_argument("--truth", type=Path, default=HERE / "course_truth.json")
    args = ap.parse_args(argv)
    out: Path = args.out
    for sub in ("slides", "lectures", "audio"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True, exist_ok=True)

    deck_path = out / DECK
    make_deck(deck_path)
    full = render_pages(deck_path, W)
    small = render_pages(deck_path, CAPTURE_W)
    font = ImageFont.truetype(FONT_BOLD, 14)
    font_small = ImageFont.truetype(FONT, 12)
    vcodec = pick_video_codec()

    truth: dict = {
        "course": COURSE_TITLE,
        "generator": "examples/make_course.py",
        "deck": DECK,
        "pages": [
            {"page": i, "title": p["title"], "text": page_text(p), "diagram": p["desc"]}
            for i, p in enumerate(PAGES, 1)
        ],
        "videos": {},
        "audio": {},
    }
    fact_spans: dict[str, list[dict]] = {}
    counter = [0]
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for lec in LECTURES:
            track = build_track(lec["segs"], tmp, counter, 1 / FPS)
            tl = track.timeline

            def page_at(t: float, tl=tl):
                for s in tl:
                    if s["start"] <= t + 1e-9 < s["end"]:
                        return s["page"]
                return tl[-1]["page"]

            if lec["layout"] == "capture":

                def frame_for(t, page_at=page_at):
                    return capture_frame(small[page_at(t)], t, font, font_small)
            else:

                def frame_for(t, page_at=page_at):
                    p = page_at(t)
                    return camera_frame(t) if p is None else full[p]

            encode_video(out / lec["name"], track, frame_for, vcodec)
            if lec["captions"]:
                cap = out / lec["captions"]
                (write_vtt if cap.suffix == ".vtt" else write_srt)(cap, track.cues)
            with av.open(str(out / lec["name"])) as c:
                dur = float(c.duration / av.time_base)
            truth["videos"][lec["name"]] = {
                "duration": round(dur, 3),
                "captions": lec["captions"],
                "layout": lec["layout"],
                "fps": FPS,
                "size": [W, H],
                **({"slide_box": list(CAPTURE_SLIDE_BOX)} if lec["layout"] == "capture" else {}),
                "timeline": tl,
                "cues": track.cues,
            }
            for f, spans in track.facts.items():
                fact_spans.setdefault(f, []).append(
                    {"source": lec["name"], "start": spans[0][0], "end": spans[-1][1]}
                )

        ptrack = build_track(PODCAST, tmp, counter, None)
        written = encode_audio(out / PODCAST_FILE, ptrack.audio)
        pod_name = os.path.relpath(written, out)
        write_vtt(out / PODCAST_CAPTIONS, ptrack.cues)
        with av.open(written) as c:
            pdur = float(c.duration / av.time_base)
        truth["audio"][pod_name] = {
            "duration": round(pdur, 3),
            "captions": PODCAST_CAPTIONS,
            "cues": [{k: v for k, v in c.items() if k != "page"} for c in ptrack.cues],
        }
        for f, spans in ptrack.facts.items():
            fact_spans.setdefault(f, []).append(
                {"source": pod_name, "start": spans[0][0], "end": spans[-1][1]}
            )

    facts = []
    for fid, (q, ans, pages) in FACTS.items():
        locs = fact_spans.get(fid, [])
        if pages:
            locs = locs + [{"source": DECK, "pages": pages}]
        assert locs, fid
        first, also = locs[0], locs[1:]
        facts.append({"id": fid, "question": q, "answer": ans, **first, "also": also})
    for i, (q, ans, pages) in enumerate(DECK_ONLY_FACTS, 1):
        facts.append(
            {"id": f"deck{i}", "question": q, "answer": ans, "source": DECK, "pages": pages, "also": []}
        )
    truth["facts"] = facts
    truth["offtopic"] = OFFTOPIC
    truth["neighbouring"] = NEIGHBOURING
    truth["codecs"] = {
        "video": vcodec,
        "audio": "aac",
        "podcast": "libmp3lame" if pod_name.endswith(".mp3") else "pcm_s16le",
    }
    args.truth.parent.mkdir(parents=True, exist_ok=True)
    args.truth.write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    for p in sorted(out.rglob("*")):
        if p.is_file():
            print(f"{p.stat().st_size / 1024:8.1f} KiB  {p.relative_to(out)}")
    print(f"{total / 1024 / 1024:8.2f} MiB  total ({vcodec} + aac)")


if __name__ == "__main__":
    main()
