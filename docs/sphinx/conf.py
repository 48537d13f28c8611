# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Sphinx configuration of the generated module and role docs (make docs). Offline on purpose:
# no intersphinx, so the build needs no network and every unresolved reference is a warning,
# which -W turns into a failure.
project = 'karbor.protection'
copyright = 'karbor.protection contributors'
title = 'karbor.protection documentation'
html_short_title = 'karbor.protection'
extensions = ['sphinx_antsibull_ext']
pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'
html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
default_role = 'any'
nitpicky = True
