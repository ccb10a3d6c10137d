"""Language models behind one interface: the embedded model (llama.cpp), any
OpenAI-compatible endpoint, local embeddings, and the trace builder every call reports to.

These are components with no knowledge of workspaces or users; ``passline.services.llm``
puts prompts, guards, caching, routing and persistence around them.
"""
