"""Rendered maps: the folium/Leaflet web maps, the printed 微网格分布图, their palette, labels and
vendored offline assets.

Takes grids, posts and figures as arguments and returns HTML or PDF/PNG bytes. Not here: database
queries, HTTP, the incident loop's rules (the caller passes e.g. only the posts in force).
"""
