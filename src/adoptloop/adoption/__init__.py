"""The loop: is what was trained observed in the field afterwards?"""
