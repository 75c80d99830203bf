"""The expression language: lexer and Pratt parser (`parser`), closure compiler (`compiler`)."""

from __future__ import annotations

from .compiler import CompileContext, Compiled, CompileError, Frame, compile_node
from .parser import ExprSyntaxError, Node, parse_expression


def compile_expression(text: str, ctx: CompileContext) -> Compiled:
    """Parse and compile the text inside ``${...}``; raises `ExprSyntaxError` or `CompileError`."""
    return compile_node(parse_expression(text), ctx, text)


__all__ = [
    "CompileContext",
    "CompileError",
    "Compiled",
    "ExprSyntaxError",
    "Frame",
    "Node",
    "compile_expression",
    "parse_expression",
]
